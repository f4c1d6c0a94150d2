//! Counters for `GET /metrics`, in the Prometheus text format.
//!
//! Plain atomics: the hot paths (every frame) only ever add to a counter.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::rules::Rejection;

/// Every figure the server exposes. One per process, shared by `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Player sockets open now.
    pub players_connected: AtomicI64,
    /// World sockets open now.
    pub world_sockets: AtomicI64,
    /// Text frames read from clients.
    pub frames_in: AtomicU64,
    /// Frames written to clients.
    pub frames_out: AtomicU64,
    /// Bytes of the frames written to clients.
    pub bytes_out: AtomicU64,
    /// Frames refused as malformed, oversized or of an unknown type.
    pub frames_refused: AtomicU64,
    /// Rejected moves, indexed like [`Rejection::ALL`].
    pub moves_rejected: [AtomicU64; 3],
    /// Sockets closed because they could not keep up.
    pub socket_queue_drops: AtomicU64,
    /// Rows handed to the store writer and not written yet.
    pub store_backlog: AtomicI64,
    /// Store writes that failed (and were retried).
    pub store_write_failures: AtomicU64,
    /// Successful store writes and their total time, for an average.
    pub store_writes: AtomicU64,
    pub store_write_micros: AtomicU64,
}

impl Metrics {
    pub fn reject(&self, reason: Rejection) {
        let index = Rejection::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.moves_rejected[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_store_write(&self, took: Duration) {
        self.store_writes.fetch_add(1, Ordering::Relaxed);
        self.store_write_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn sent(&self, bytes: usize) {
        self.frames_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every figure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut put = |name: &str, kind: &str, help: &str, value: String| {
            // unwrap: writing to a String cannot fail
            writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            )
            .unwrap();
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        let geti = |a: &AtomicI64| a.load(Ordering::Relaxed).to_string();
        put(
            "drapetisca_players_connected",
            "gauge",
            "Player sockets open now.",
            geti(&self.players_connected),
        );
        put(
            "drapetisca_world_sockets",
            "gauge",
            "World sockets open now.",
            geti(&self.world_sockets),
        );
        put(
            "drapetisca_frames_in_total",
            "counter",
            "Text frames read from clients.",
            get(&self.frames_in),
        );
        put(
            "drapetisca_frames_out_total",
            "counter",
            "Frames written to clients.",
            get(&self.frames_out),
        );
        put(
            "drapetisca_bytes_out_total",
            "counter",
            "Bytes written to clients.",
            get(&self.bytes_out),
        );
        put(
            "drapetisca_frames_refused_total",
            "counter",
            "Frames refused as malformed, oversized or unknown.",
            get(&self.frames_refused),
        );
        put(
            "drapetisca_socket_queue_drops_total",
            "counter",
            "Sockets closed for not keeping up.",
            get(&self.socket_queue_drops),
        );
        put(
            "drapetisca_store_backlog",
            "gauge",
            "Rows waiting to be written to the store.",
            geti(&self.store_backlog),
        );
        put(
            "drapetisca_store_write_failures_total",
            "counter",
            "Failed store writes (retried).",
            get(&self.store_write_failures),
        );
        put(
            "drapetisca_store_writes_total",
            "counter",
            "Successful store writes.",
            get(&self.store_writes),
        );
        put(
            "drapetisca_store_write_seconds_total",
            "counter",
            "Time spent in successful store writes.",
            format!(
                "{:.6}",
                self.store_write_micros.load(Ordering::Relaxed) as f64 / 1e6
            ),
        );
        let _ = writeln!(out, "# HELP drapetisca_moves_rejected_total Rejected moves by reason.\n# TYPE drapetisca_moves_rejected_total counter");
        for (reason, count) in Rejection::ALL.iter().zip(&self.moves_rejected) {
            let _ = writeln!(
                out,
                "drapetisca_moves_rejected_total{{reason=\"{}\"}} {}",
                reason.as_str(),
                get(count)
            );
        }
        out
    }
}
