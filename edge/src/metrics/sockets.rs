//! The sockets' figures: sockets open, frames in and out, refused frames and game
//! creations, sockets dropped for not keeping up, and memory handed back after closes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::striped::Striped;

/// The reasons the lobby refuses a creation, as `/metrics` labels them.
pub const GAME_REFUSALS: [&str; 5] = ["origin", "invalid", "too_many", "full", "store"];

/// Labels of a counter by reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    /// The reason's label.
    reason: &'static str,
}

/// The figures every socket and the lobby share; cheap to clone (the handles are).
#[derive(Clone, Debug)]
pub struct SocketMetrics {
    /// Player sockets open now.
    players_connected: Gauge,
    /// World sockets open now.
    world_sockets: Gauge,
    /// Text frames read from player sockets.
    frames_in: Counter,
    /// Frames written to clients, every frame to every socket: striped over cache
    /// lines, so that the worker threads do not fight over one line hundreds of
    /// thousands of times a second.
    frames_out: Striped,
    /// Bytes of those frames.
    bytes_out: Striped,
    /// Frames refused as malformed, oversized or of an unknown type.
    frames_refused: Counter,
    /// Sockets closed because they could not keep up: the rooms' counter
    /// (`RoomMetrics::queue_drops`), which counts player sockets with a full outbox.
    socket_queue_drops: Counter,
    /// Game creations refused by the lobby, by reason ([`GAME_REFUSALS`]).
    games_refused: Family<Reason, Counter>,
    /// Times the freed memory of closed sockets was handed back to the system.
    memory_trims: Counter,
    /// Sockets that resumed their world stream after the update they named.
    resumes: Counter,
    /// Updates sent to resumed sockets as what they missed.
    resumed_updates: Counter,
    /// Sockets that named an update this instance no longer had (they get a brief).
    resumes_refused: Counter,
}

impl SocketMetrics {
    /// The sockets' figures, registered into `registry` (the `drapetisca_` one);
    /// `queue_drops` is the rooms' counter of sockets that could not keep up.
    pub fn register(registry: &mut Registry, queue_drops: Counter) -> Self {
        let m = SocketMetrics {
            players_connected: Gauge::default(),
            world_sockets: Gauge::default(),
            frames_in: Counter::default(),
            frames_out: Striped::default(),
            bytes_out: Striped::default(),
            frames_refused: Counter::default(),
            socket_queue_drops: queue_drops,
            games_refused: Family::default(),
            memory_trims: Counter::default(),
            resumes: Counter::default(),
            resumed_updates: Counter::default(),
            resumes_refused: Counter::default(),
        };
        // created now, so that every reason is shown from zero
        for reason in GAME_REFUSALS {
            drop(m.games_refused.get_or_create(&Reason { reason }));
        }
        registry.register(
            "players_connected",
            "Player sockets open now",
            m.players_connected.clone(),
        );
        registry.register(
            "world_sockets",
            "World sockets open now",
            m.world_sockets.clone(),
        );
        registry.register(
            "frames_in",
            "Text frames read from player sockets",
            m.frames_in.clone(),
        );
        registry.register(
            "frames_out",
            "Frames written to clients",
            m.frames_out.clone(),
        );
        registry.register(
            "bytes_out",
            "Bytes of the frames written to clients",
            m.bytes_out.clone(),
        );
        registry.register(
            "frames_refused",
            "Frames refused as malformed, oversized or unknown",
            m.frames_refused.clone(),
        );
        registry.register(
            "games_refused",
            "Game creations refused by the lobby, by reason",
            m.games_refused.clone(),
        );
        registry.register(
            "memory_trims",
            "Times the freed memory of closed sockets was handed back to the system",
            m.memory_trims.clone(),
        );
        registry.register(
            "resumes",
            "Sockets whose world stream resumed after the update they named",
            m.resumes.clone(),
        );
        registry.register(
            "resumed_updates",
            "Updates sent to resumed sockets as what they missed",
            m.resumed_updates.clone(),
        );
        registry.register(
            "resumes_refused",
            "Sockets that named an update no longer kept here (they get a brief)",
            m.resumes_refused.clone(),
        );
        m
    }

    /// A socket resumed its world stream, with `missed` updates it had not seen.
    pub fn resumed(&self, missed: usize) {
        self.resumes.inc();
        self.resumed_updates.inc_by(missed as u64);
    }

    /// A socket named an update this instance no longer has.
    pub fn resume_refused(&self) {
        self.resumes_refused.inc();
    }

    /// A player socket opened.
    pub fn player_connected(&self) {
        self.players_connected.inc();
    }

    /// A player socket closed.
    pub fn player_disconnected(&self) {
        self.players_connected.dec();
    }

    /// A world socket opened.
    pub fn world_socket_opened(&self) {
        self.world_sockets.inc();
    }

    /// A world socket closed.
    pub fn world_socket_closed(&self) {
        self.world_sockets.dec();
    }

    /// A text frame read from a player socket.
    pub fn frame_in(&self) {
        self.frames_in.inc();
    }

    /// A frame refused as malformed, oversized or of an unknown type.
    pub fn frame_refused(&self) {
        self.frames_refused.inc();
    }

    /// A socket closed because it could not keep up.
    pub fn socket_queue_drop(&self) {
        self.socket_queue_drops.inc();
    }

    /// The lobby refused to create a game, for `reason` (one of [`GAME_REFUSALS`]).
    pub fn game_refused(&self, reason: &'static str) {
        self.games_refused.get_or_create(&Reason { reason }).inc();
    }

    /// The freed memory of closed sockets was handed back to the system.
    pub fn memory_trimmed(&self) {
        self.memory_trims.inc();
    }

    /// One frame of `bytes` written to a client: the hottest counter of the server.
    pub fn sent(&self, bytes: usize) {
        self.frames_out.add(1);
        self.bytes_out.add(bytes as u64);
    }
}
