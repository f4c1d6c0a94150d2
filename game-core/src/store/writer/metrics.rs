//! The store writer's figures for `/metrics`: its backlog, and its writes' times and
//! failures.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::LATENCY_BUCKETS;

/// The store writer's figures; cheap to clone (the handles are).
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    /// Rows handed to the store writer and not written yet.
    store_backlog: Gauge,
    /// Store writes that failed (the writer retries them).
    store_write_failures: Counter,
    /// How long successful store writes took; its count is the number of writes.
    store_write: Histogram,
}

impl Default for StoreMetrics {
    /// Figures registered nowhere (tests, tools).
    fn default() -> Self {
        StoreMetrics {
            store_backlog: Gauge::default(),
            store_write_failures: Counter::default(),
            store_write: Histogram::new(LATENCY_BUCKETS),
        }
    }
}

impl StoreMetrics {
    /// The writer's figures, registered into `registry` (the `drapetisca_` one).
    pub fn register(registry: &mut Registry) -> Self {
        let m = StoreMetrics::default();
        registry.register(
            "store_backlog",
            "Rows waiting to be written to the store",
            m.store_backlog.clone(),
        );
        registry.register(
            "store_write_failures",
            "Failed store writes (retried)",
            m.store_write_failures.clone(),
        );
        registry.register_with_unit(
            "store_write",
            "Time of one successful store write",
            Unit::Seconds,
            m.store_write.clone(),
        );
        m
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
}
