//! The figures of `GET /metrics`, in the Prometheus text format (version 0.0.4), kept
//! and written by `prometheus-client`.
//!
//! One registry per server, not a global one: tests and benchmarks run several servers
//! in one process, and each reports only its own figures. Each subsystem keeps its own
//! figures and registers them through a [`Builder`]: the rooms and the store writer
//! (in the core), the guard ([`crate::guard`]), and the sockets ([`sockets`]); this
//! module adds this process's CPU and memory ([`process`]) and writes them all.

mod process;
pub mod sockets;
mod striped;

use prometheus_client::registry::Registry;

pub use sockets::SocketMetrics;

/// Collects every subsystem's figures before the server starts.
pub struct Builder {
    /// Every figure registered so far, and this process's.
    registry: Registry,
}

impl Default for Builder {
    fn default() -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::Collector));
        Builder { registry }
    }
}

impl Builder {
    /// Where a subsystem registers its figures: named under the `drapetisca_` prefix
    /// (the process figures keep their standard names).
    pub fn ours(&mut self) -> &mut Registry {
        self.registry.sub_registry_with_prefix("drapetisca")
    }

    /// The figures, ready to be written.
    pub fn build(self) -> Metrics {
        Metrics {
            registry: self.registry,
        }
    }
}

/// Every figure the server exposes, as `/metrics` writes them.
#[derive(Debug)]
pub struct Metrics {
    /// What `/metrics` encodes.
    registry: Registry,
}

impl Metrics {
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
    use std::time::Duration;

    use game_core::room::metrics::RoomMetrics;
    use game_core::rules::Rejection;
    use game_core::store::writer::metrics::StoreMetrics;

    use super::*;

    /// The figures of a server, with the handles of three of its subsystems.
    fn server() -> (Metrics, RoomMetrics, StoreMetrics, SocketMetrics) {
        let mut builder = Builder::default();
        let room = RoomMetrics::register(builder.ours());
        let store = StoreMetrics::register(builder.ours());
        let sockets = SocketMetrics::register(builder.ours(), room.queue_drops());
        (builder.build(), room, store, sockets)
    }

    fn value(m: &Metrics, series: &str) -> f64 {
        m.value(series)
            .unwrap_or_else(|| panic!("no {series} in\n{}", m.render()))
    }

    #[test]
    fn every_line_is_a_comment_or_a_sample_with_a_number() {
        let (m, room, store, sockets) = server();
        sockets.sent(100);
        room.reject(Rejection::Brick);
        room.observe_bus_publish(Duration::from_micros(30));
        store.observe_store_write(Duration::from_millis(3));
        sockets.player_connected();
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
        let (m, _, store, _) = server();
        for us in [10, 60, 60, 3_000, 9_000_000] {
            store.observe_store_write(Duration::from_micros(us));
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
        let (m, _, store, _) = server();
        store.store_rows_queued(5);
        store.store_rows_done(3);
        assert_eq!(value(&m, "drapetisca_store_backlog"), 2.0);
    }

    #[test]
    fn striped_counters_add_up_across_threads() {
        let (m, _, _, sockets) = server();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let sockets = sockets.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        sockets.sent(2);
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
