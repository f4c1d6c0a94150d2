//! The rooms' figures for `/metrics`: rejected moves, refused and forgotten players,
//! sockets dropped for a full outbox, and the time of each publish.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::LATENCY_BUCKETS;
use rules::Rejection;

/// Why a game refused a player: the label of `drapetisca_players_refused_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerRefusal {
    /// A socket for an id that is connected and has no resume token (`1008`).
    Taken,
    /// A socket for a token-bound id that did not enter with the id's token (`1008`).
    Token,
    /// An `entering` while the game holds its most players (an `error` frame).
    Full,
}

impl PlayerRefusal {
    pub const ALL: [PlayerRefusal; 3] = [
        PlayerRefusal::Taken,
        PlayerRefusal::Token,
        PlayerRefusal::Full,
    ];

    /// Its label.
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerRefusal::Taken => "taken",
            PlayerRefusal::Token => "token",
            PlayerRefusal::Full => "full",
        }
    }
}

/// Labels of a counter by reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    /// The reason's label.
    reason: &'static str,
}

/// The figures every room of an instance shares; cheap to clone (the handles are).
#[derive(Clone, Debug)]
pub struct RoomMetrics {
    /// Rejected moves, by reason; every reason is shown from zero.
    moves_rejected: Family<Reason, Counter>,
    /// Players refused by their game, by [`PlayerRefusal`].
    players_refused: Family<Reason, Counter>,
    /// Players forgotten: gone longer than the prune time, or gone longest when a
    /// game at its cap let a newcomer in.
    players_pruned: Counter,
    /// Sockets closed because they could not keep up: a room's full outbox here, the
    /// edge counts its world sockets in the same counter ([`RoomMetrics::queue_drops`]).
    socket_queue_drops: Counter,
    /// World frames the rooms handed to the bus.
    bus_published: Counter,
    /// How long `Bus::publish` took: the in-process bus delivers to the local fan-out
    /// inside that call, the Pulsar bus only queues the frame.
    bus_publish: Histogram,
}

impl Default for RoomMetrics {
    /// Figures registered nowhere (tests, tools).
    fn default() -> Self {
        let metrics = RoomMetrics {
            moves_rejected: Family::default(),
            players_refused: Family::default(),
            players_pruned: Counter::default(),
            socket_queue_drops: Counter::default(),
            bus_published: Counter::default(),
            bus_publish: Histogram::new(LATENCY_BUCKETS),
        };
        // created now, so that every reason is shown from zero
        for reason in Rejection::ALL {
            drop(metrics.moves_rejected.get_or_create(&Reason {
                reason: reason.as_str(),
            }));
        }
        for refusal in PlayerRefusal::ALL {
            drop(metrics.players_refused.get_or_create(&Reason {
                reason: refusal.as_str(),
            }));
        }
        metrics
    }
}

impl RoomMetrics {
    /// The rooms' figures, registered into `registry` (the `drapetisca_` one).
    pub fn register(registry: &mut Registry) -> Self {
        let m = RoomMetrics::default();
        registry.register(
            "moves_rejected",
            "Rejected moves by reason",
            m.moves_rejected.clone(),
        );
        registry.register(
            "players_refused",
            "Players refused by their game: id taken, token not shown, game full",
            m.players_refused.clone(),
        );
        registry.register(
            "players_pruned",
            "Players forgotten: gone longer than the prune time, or gone longest when a full game let a newcomer in",
            m.players_pruned.clone(),
        );
        registry.register(
            "socket_queue_drops",
            "Sockets closed for not keeping up",
            m.socket_queue_drops.clone(),
        );
        registry.register(
            "bus_published",
            "World frames handed to the bus",
            m.bus_published.clone(),
        );
        registry.register_with_unit(
            "bus_publish",
            "Time of one Bus::publish call",
            Unit::Seconds,
            m.bus_publish.clone(),
        );
        m
    }

    /// The counter of sockets closed for not keeping up, for the edge's world sockets.
    pub fn queue_drops(&self) -> Counter {
        self.socket_queue_drops.clone()
    }

    /// A move rejected for `reason`.
    pub fn reject(&self, reason: Rejection) {
        self.moves_rejected
            .get_or_create(&Reason {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// A game refused a player for `refusal`.
    pub fn player_refused(&self, refusal: PlayerRefusal) {
        self.players_refused
            .get_or_create(&Reason {
                reason: refusal.as_str(),
            })
            .inc();
    }

    /// `players` players forgotten by a game.
    pub fn players_pruned(&self, players: usize) {
        self.players_pruned.inc_by(players as u64);
    }

    /// A player socket dropped because its outbox was full.
    pub fn socket_queue_drop(&self) {
        self.socket_queue_drops.inc();
    }

    /// One world frame handed to the bus, which took `took`.
    pub fn observe_bus_publish(&self, took: Duration) {
        self.bus_published.inc();
        self.bus_publish.observe(took.as_secs_f64());
    }
}
