//! The figures of `GET /metrics`, in the Prometheus text format (version 0.0.4), kept
//! and written by `prometheus-client`.
//!
//! One registry per [`Metrics`], not a global one: tests and benchmarks run several
//! servers in one process, and each reports only its own figures. Callers only use the
//! methods of [`Metrics`]; the metric types stay inside this module.
//!
//! The two counters touched for every frame to every socket ([`Metrics::sent`]) are
//! striped over cache lines ([`Striped`]), so that the worker threads do not fight over
//! one line hundreds of thousands of times a second; the stripes are summed when
//! `/metrics` is read.

mod process;
mod striped;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::rules::Rejection;
use crate::ws::guard::{rate::Limited, Refusal};
use striped::Striped;

/// Upper bounds of the latency histograms' buckets, in seconds: 50 us to 5 s.
const BUCKETS: [f64; 15] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 5.0,
];

/// Labels of `drapetisca_moves_rejected_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectionLabels {
    /// [`Rejection::as_str`].
    reason: &'static str,
}

/// Labels of `drapetisca_sockets_refused_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    /// One of [`Refusal::LABELS`].
    reason: &'static str,
}

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

/// Labels of `drapetisca_frames_limited_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitedLabels {
    /// [`Limited::as_str`].
    kind: &'static str,
}

/// Every figure the server exposes. One per server, shared by `Arc`; handles are
/// clones of what the registry encodes.
#[derive(Debug)]
pub struct Metrics {
    /// What `/metrics` encodes: every handle below, and this process's CPU and memory.
    registry: Registry,
    /// Player sockets open now.
    players_connected: Gauge,
    /// World sockets open now.
    world_sockets: Gauge,
    /// Text frames read from player sockets.
    frames_in: Counter,
    /// Frames written to clients, every frame to every socket.
    frames_out: Striped,
    /// Bytes of those frames.
    bytes_out: Striped,
    /// Frames refused as malformed, oversized or of an unknown type.
    frames_refused: Counter,
    /// Rejected moves, by reason; every reason is shown from zero.
    moves_rejected: Family<RejectionLabels, Counter>,
    /// Sockets (world or player) closed because they could not keep up.
    socket_queue_drops: Counter,
    /// WebSocket handshakes refused (origin, caps), by the check that refused them.
    sockets_refused: Family<RefusalLabels, Counter>,
    /// Client frames dropped for going over a rate limit, by kind.
    frames_limited: Family<LimitedLabels, Counter>,
    /// Sockets closed for having too many frames dropped or refused.
    sockets_flooding: Counter,
    /// Players refused by their game, by [`PlayerRefusal`].
    players_refused: Family<RefusalLabels, Counter>,
    /// Game creations refused by the lobby, by reason (`crate::lobby::REFUSALS`).
    games_refused: Family<RefusalLabels, Counter>,
    /// Players forgotten: gone longer than the prune time, or gone longest when a
    /// game at its cap let a newcomer in.
    players_pruned: Counter,
    /// Times the freed memory of closed sockets was handed back to the system.
    memory_trims: Counter,
    /// World frames the room handed to the bus.
    bus_published: Counter,
    /// How long `Bus::publish` took: the in-process bus delivers to the local fan-out
    /// inside that call, the Pulsar bus only queues the frame.
    bus_publish: Histogram,
    /// Rows handed to the store writer and not written yet.
    store_backlog: Gauge,
    /// Store writes that failed (the writer retries them).
    store_write_failures: Counter,
    /// How long successful store writes took; its count is the number of writes.
    store_write: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Registry::default(),
            players_connected: Gauge::default(),
            world_sockets: Gauge::default(),
            frames_in: Counter::default(),
            frames_out: Striped::default(),
            bytes_out: Striped::default(),
            frames_refused: Counter::default(),
            moves_rejected: Family::default(),
            socket_queue_drops: Counter::default(),
            sockets_refused: Family::default(),
            frames_limited: Family::default(),
            sockets_flooding: Counter::default(),
            players_refused: Family::default(),
            games_refused: Family::default(),
            players_pruned: Counter::default(),
            memory_trims: Counter::default(),
            bus_published: Counter::default(),
            bus_publish: Histogram::new(BUCKETS),
            store_backlog: Gauge::default(),
            store_write_failures: Counter::default(),
            store_write: Histogram::new(BUCKETS),
        };
        // created now, so that every reason is shown from zero
        for reason in Rejection::ALL {
            drop(metrics.moves_rejected.get_or_create(&RejectionLabels {
                reason: reason.as_str(),
            }));
        }
        for reason in Refusal::LABELS {
            drop(
                metrics
                    .sockets_refused
                    .get_or_create(&RefusalLabels { reason }),
            );
        }
        for refusal in PlayerRefusal::ALL {
            drop(metrics.players_refused.get_or_create(&RefusalLabels {
                reason: refusal.as_str(),
            }));
        }
        for reason in crate::lobby::REFUSALS {
            drop(
                metrics
                    .games_refused
                    .get_or_create(&RefusalLabels { reason }),
            );
        }
        for kind in Limited::ALL {
            drop(metrics.frames_limited.get_or_create(&LimitedLabels {
                kind: kind.as_str(),
            }));
        }
        metrics.registered()
    }
}

impl Metrics {
    /// Registers every handle, under the `drapetisca_` prefix; the process figures keep
    /// their standard names.
    fn registered(mut self) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::Collector));
        let ours = registry.sub_registry_with_prefix("drapetisca");
        let m = &self;
        ours.register(
            "players_connected",
            "Player sockets open now",
            m.players_connected.clone(),
        );
        ours.register(
            "world_sockets",
            "World sockets open now",
            m.world_sockets.clone(),
        );
        ours.register(
            "frames_in",
            "Text frames read from player sockets",
            m.frames_in.clone(),
        );
        ours.register(
            "frames_out",
            "Frames written to clients",
            m.frames_out.clone(),
        );
        ours.register(
            "bytes_out",
            "Bytes of the frames written to clients",
            m.bytes_out.clone(),
        );
        ours.register(
            "frames_refused",
            "Frames refused as malformed, oversized or unknown",
            m.frames_refused.clone(),
        );
        ours.register(
            "moves_rejected",
            "Rejected moves by reason",
            m.moves_rejected.clone(),
        );
        ours.register(
            "socket_queue_drops",
            "Sockets closed for not keeping up",
            m.socket_queue_drops.clone(),
        );
        ours.register(
            "sockets_refused",
            "WebSocket handshakes refused, by the check that refused them",
            m.sockets_refused.clone(),
        );
        ours.register(
            "frames_limited",
            "Client frames dropped for going over a rate limit, by kind",
            m.frames_limited.clone(),
        );
        ours.register(
            "sockets_flooding",
            "Sockets closed for having too many frames dropped or refused",
            m.sockets_flooding.clone(),
        );
        ours.register(
            "players_refused",
            "Players refused by their game: id taken, token not shown, game full",
            m.players_refused.clone(),
        );
        ours.register(
            "games_refused",
            "Game creations refused by the lobby, by reason",
            m.games_refused.clone(),
        );
        ours.register(
            "players_pruned",
            "Players forgotten: gone longer than the prune time, or gone longest when a full game let a newcomer in",
            m.players_pruned.clone(),
        );
        ours.register(
            "memory_trims",
            "Times the freed memory of closed sockets was handed back to the system",
            m.memory_trims.clone(),
        );
        ours.register(
            "bus_published",
            "World frames handed to the bus",
            m.bus_published.clone(),
        );
        ours.register_with_unit(
            "bus_publish",
            "Time of one Bus::publish call",
            Unit::Seconds,
            m.bus_publish.clone(),
        );
        ours.register(
            "store_backlog",
            "Rows waiting to be written to the store",
            m.store_backlog.clone(),
        );
        ours.register(
            "store_write_failures",
            "Failed store writes (retried)",
            m.store_write_failures.clone(),
        );
        ours.register_with_unit(
            "store_write",
            "Time of one successful store write",
            Unit::Seconds,
            m.store_write.clone(),
        );
        self.registry = registry;
        self
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

    /// A socket (world or player) closed because it could not keep up.
    pub fn socket_queue_drop(&self) {
        self.socket_queue_drops.inc();
    }

    /// A WebSocket handshake refused.
    pub fn socket_refused(&self, refusal: Refusal) {
        let reason = Refusal::LABELS[refusal.index()];
        self.sockets_refused
            .get_or_create(&RefusalLabels { reason })
            .inc();
    }

    /// A client frame of `kind` dropped for going over its rate limit.
    pub fn frame_limited(&self, kind: Limited) {
        self.frames_limited
            .get_or_create(&LimitedLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    /// A socket closed for having too many frames dropped or refused.
    pub fn socket_flooding(&self) {
        self.sockets_flooding.inc();
    }

    /// A game refused a player for `refusal`.
    pub fn player_refused(&self, refusal: PlayerRefusal) {
        self.players_refused
            .get_or_create(&RefusalLabels {
                reason: refusal.as_str(),
            })
            .inc();
    }

    /// The lobby refused to create a game, for `reason` (one of `crate::lobby::REFUSALS`).
    pub fn game_refused(&self, reason: &'static str) {
        self.games_refused
            .get_or_create(&RefusalLabels { reason })
            .inc();
    }

    /// `players` players forgotten by a game.
    pub fn players_pruned(&self, players: usize) {
        self.players_pruned.inc_by(players as u64);
    }

    /// The freed memory of closed sockets was handed back to the system.
    pub fn memory_trimmed(&self) {
        self.memory_trims.inc();
    }

    /// A move rejected for `reason`.
    pub fn reject(&self, reason: Rejection) {
        self.moves_rejected
            .get_or_create(&RejectionLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// One world frame handed to the bus, which took `took`.
    pub fn observe_bus_publish(&self, took: Duration) {
        self.bus_published.inc();
        self.bus_publish.observe(took.as_secs_f64());
    }

    /// `rows` handed to the store writer.
    pub fn store_rows_queued(&self, rows: usize) {
        self.store_backlog.inc_by(rows as i64);
    }

    /// `rows` of the store writer's backlog written, or replaced by a newer row.
    pub fn store_rows_done(&self, rows: usize) {
        self.store_backlog.dec_by(rows as i64);
    }

    /// A successful store write, which took `took`.
    pub fn observe_store_write(&self, took: Duration) {
        self.store_write.observe(took.as_secs_f64());
    }

    /// A store write that failed (and will be retried).
    pub fn store_write_failed(&self) {
        self.store_write_failures.inc();
    }

    /// One frame of `bytes` written to a client: the hottest counter of the server.
    pub fn sent(&self, bytes: usize) {
        self.frames_out.add(1);
        self.bytes_out.add(bytes as u64);
    }

    /// The Prometheus text exposition of every figure.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // unwrap: encoding into a String cannot fail
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry).unwrap();
        text
    }

    /// The value of one sample of [`Metrics::render`], named as it is there (e.g.
    /// `drapetisca_store_write_seconds_count`, or with labels
    /// `drapetisca_moves_rejected_total{reason="brick"}`): for benchmarks and tests that
    /// run the server in process.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.render()
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(m: &Metrics, series: &str) -> f64 {
        m.value(series)
            .unwrap_or_else(|| panic!("no {series} in\n{}", m.render()))
    }

    #[test]
    fn every_line_is_a_comment_or_a_sample_with_a_number() {
        let m = Metrics::default();
        m.sent(100);
        m.reject(Rejection::Brick);
        m.observe_bus_publish(Duration::from_micros(30));
        m.observe_store_write(Duration::from_millis(3));
        m.player_connected();
        let text = m.render();
        for line in text.lines() {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            let (series, number) = line.rsplit_once(' ').expect(line);
            assert!(
                series.starts_with("drapetisca_") || series.starts_with("process_"),
                "{line}"
            );
            number.parse::<f64>().expect(line);
        }
        assert_eq!(value(&m, "drapetisca_frames_out_total"), 1.0);
        assert_eq!(value(&m, "drapetisca_bytes_out_total"), 100.0);
        assert_eq!(value(&m, "drapetisca_players_connected"), 1.0);
        assert_eq!(
            value(&m, "drapetisca_moves_rejected_total{reason=\"brick\"}"),
            1.0
        );
        assert_eq!(
            value(&m, "drapetisca_moves_rejected_total{reason=\"occupied\"}"),
            0.0,
            "every reason is shown before it happens"
        );
        assert_eq!(value(&m, "drapetisca_bus_published_total"), 1.0);
        assert_eq!(value(&m, "drapetisca_bus_publish_seconds_count"), 1.0);
        assert!(value(&m, "process_resident_memory_bytes") > 0.0);
        assert!(value(&m, "process_cpu_seconds_total") >= 0.0);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_the_count() {
        let m = Metrics::default();
        for us in [10, 60, 60, 3_000, 9_000_000] {
            m.observe_store_write(Duration::from_micros(us));
        }
        let b = |le: &str| {
            value(
                &m,
                &format!("drapetisca_store_write_seconds_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(b("5e-05"), 1.0);
        assert_eq!(b("0.0001"), 3.0);
        assert_eq!(b("0.005"), 4.0);
        assert_eq!(b("5"), 4.0);
        assert_eq!(b("+Inf"), 5.0);
        assert_eq!(value(&m, "drapetisca_store_write_seconds_count"), 5.0);
        let sum = value(&m, "drapetisca_store_write_seconds_sum");
        assert!((sum - 9.00313).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn the_store_backlog_goes_up_and_down() {
        let m = Metrics::default();
        m.store_rows_queued(5);
        m.store_rows_done(3);
        assert_eq!(value(&m, "drapetisca_store_backlog"), 2.0);
    }

    #[test]
    fn striped_counters_add_up_across_threads() {
        let m = std::sync::Arc::new(Metrics::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.sent(2);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(value(&m, "drapetisca_frames_out_total"), 4000.0);
        assert_eq!(value(&m, "drapetisca_bytes_out_total"), 8000.0);
    }
}
