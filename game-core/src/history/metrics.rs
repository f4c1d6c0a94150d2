//! The history's figures for `/metrics`: records written, dropped (a full queue) and
//! failed writes; games forgotten.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The history's figures; cheap to clone (the handles are).
#[derive(Clone, Debug, Default)]
pub struct HistoryMetrics {
    /// Records handed to the writer and not written yet.
    backlog: Gauge,
    /// Records written to the store.
    written: Counter,
    /// Records dropped because the writer's queue was full.
    dropped: Counter,
    /// History writes that failed (retried).
    failures: Counter,
    /// Games forgotten by this instance (not played for `--forget-games-after-secs`).
    forgotten: Counter,
}

impl HistoryMetrics {
    /// The figures, registered into `registry` (the `drapetisca_` one).
    pub fn register(registry: &mut Registry) -> Self {
        let m = HistoryMetrics::default();
        registry.register(
            "history_backlog",
            "History records waiting to be written to the store",
            m.backlog.clone(),
        );
        registry.register(
            "history_records_written",
            "History records written to the store",
            m.written.clone(),
        );
        registry.register(
            "history_records_dropped",
            "History records dropped because the history writer's queue was full",
            m.dropped.clone(),
        );
        registry.register(
            "history_write_failures",
            "Failed history writes (retried)",
            m.failures.clone(),
        );
        registry.register(
            "games_forgotten",
            "Games forgotten by this instance because nobody played them",
            m.forgotten.clone(),
        );
        m
    }

    pub(super) fn queued(&self) {
        self.backlog.inc();
    }

    pub(super) fn written(&self, records: usize) {
        self.backlog.dec_by(records as i64);
        self.written.inc_by(records as u64);
    }

    pub(super) fn dropped(&self) {
        self.dropped.inc();
    }

    /// Records dropped so far (tests).
    pub fn dropped_count(&self) -> u64 {
        self.dropped.get()
    }

    /// Records written so far (tests).
    pub fn written_count(&self) -> u64 {
        self.written.get()
    }

    pub(super) fn failed(&self) {
        self.failures.inc();
    }

    pub(super) fn forgot(&self) {
        self.forgotten.inc();
    }
}
