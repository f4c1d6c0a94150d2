//! Write-behind for history: rooms hand records over and move on; this task appends
//! them to the store, in order per game, and drops what the retention no longer keeps.
//!
//! Unlike rows, records do not coalesce (each update is kept), so the queue is
//! bounded: [`QUEUE`] records. When it is full (the store is away or slower than the
//! games) a record is dropped and counted (`drapetisca_history_records_dropped`):
//! that game's history has a gap there, which the room's next snapshot closes for a
//! replay (the state after it is whole again). The room never waits. A failed append
//! is retried with backoff, holding its batch (the queue fills meanwhile, then drops).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::Uuid;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::metrics::HistoryMetrics;
use super::Keeping;
use crate::clock::now_ms;
use crate::store::{HistoryRecord, Store};

/// Most records waiting for the store (about 80 s of 800 moves a second); beyond, a
/// record is dropped.
pub const QUEUE: usize = 65_536;
/// Most records taken off the queue for one round of appends.
const ROUND: usize = 4096;
/// How often records older than the retention are dropped (stores without a TTL).
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long shutdown keeps retrying before it gives up on what is left.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The rooms' side of the history writer. Cheap to clone.
#[derive(Clone)]
pub struct HistoryWriter {
    tx: mpsc::Sender<(Uuid, HistoryRecord)>,
    metrics: HistoryMetrics,
    keeping: Keeping,
}

impl HistoryWriter {
    /// Starts the writer, with a queue of `queue` records; the handle completes once
    /// everything handed over was written (or given up on) after the last
    /// [`HistoryWriter`] is dropped.
    pub fn spawn(
        store: Arc<dyn Store>,
        keeping: Keeping,
        queue: usize,
        metrics: HistoryMetrics,
    ) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let task = tokio::spawn(run(store, rx, keeping.retention, metrics.clone()));
        (
            HistoryWriter {
                tx,
                metrics,
                keeping,
            },
            task,
        )
    }

    /// How often a room snapshots its game.
    pub fn snapshot_every(&self) -> Duration {
        self.keeping.snapshot_every
    }

    /// Queues `record` of `game`; never waits: dropped (and counted) when the queue is
    /// full.
    pub fn append(&self, game: Uuid, record: HistoryRecord) {
        match self.tx.try_send((game, record)) {
            Ok(()) => self.metrics.queued(),
            Err(mpsc::error::TrySendError::Full(_)) => self.metrics.dropped(),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("history writer is gone; a record was not kept")
            }
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<(Uuid, HistoryRecord)>,
    retention: Duration,
    metrics: HistoryMetrics,
) {
    let mut expire = tokio::time::interval(EXPIRE_EVERY);
    expire.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            first = rx.recv() => first,
            _ = expire.tick() => {
                let before = now_ms().saturating_sub(retention.as_millis() as i64);
                if let Err(e) = store.expire_history(before).await {
                    tracing::warn!(error = %e, "history retention: dropping old records failed");
                }
                continue;
            }
        };
        let Some(first) = first else { break };
        // one round: what is queued now, grouped by game in order
        let mut games: HashMap<Uuid, Vec<HistoryRecord>> = HashMap::new();
        let mut taken = 1;
        games.entry(first.0).or_default().push(first.1);
        while taken < ROUND {
            let Ok((game, record)) = rx.try_recv() else {
                break;
            };
            games.entry(game).or_default().push(record);
            taken += 1;
        }
        for (game, records) in games {
            append(&*store, game, &records, retention, &metrics, rx.is_closed()).await;
        }
    }
}

/// Appends one game's records, retrying while the store fails (within a grace time
/// once the rooms are gone).
async fn append(
    store: &dyn Store,
    game: Uuid,
    records: &[HistoryRecord],
    keep: Duration,
    metrics: &HistoryMetrics,
    closing: bool,
) {
    let mut backoff = FIRST_BACKOFF;
    let give_up = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    loop {
        match store.append_history(game, records, keep).await {
            Ok(()) => return metrics.written(records.len()),
            Err(e) => {
                metrics.failed();
                if closing && tokio::time::Instant::now() >= give_up {
                    tracing::error!(%game, records = records.len(), error = %e, "store still failing at shutdown; these history records were not kept");
                    return;
                }
                tracing::warn!(%game, error = %e, retry_in = ?backoff, "history write failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;

    fn keeping() -> Keeping {
        Keeping {
            retention: Duration::from_secs(3600),
            snapshot_every: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn records_reach_the_store_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let game = Uuid::from_u128(1);
        let (writer, task) =
            HistoryWriter::spawn(store.clone(), keeping(), QUEUE, HistoryMetrics::default());
        let t = now_ms();
        writer.append(game, HistoryRecord::snapshot(9, t, ["{}"]));
        for seq in 10..1000 {
            writer.append(game, HistoryRecord::update(seq, t, "{}".into()));
        }
        drop(writer);
        task.await.unwrap();
        let updates = store.history_updates(game, 9, t, t, 10_000).await.unwrap();
        let seqs: Vec<u64> = updates.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (10..1000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_full_queue_drops_records_and_counts_them_without_waiting() {
        /// A store that never answers: the queue fills up.
        struct Stuck;
        #[async_trait::async_trait]
        impl Store for Stuck {
            async fn current_game(&self) -> Result<Option<Uuid>, crate::store::StoreError> {
                Ok(None)
            }
            async fn set_current_game(&self, _: Uuid) -> Result<(), crate::store::StoreError> {
                Ok(())
            }
            async fn create_game(
                &self,
                _: &crate::store::GameInfo,
            ) -> Result<(), crate::store::StoreError> {
                Ok(())
            }
            async fn games(&self) -> Result<Vec<crate::store::GameInfo>, crate::store::StoreError> {
                Ok(Vec::new())
            }
            async fn game(
                &self,
                _: Uuid,
            ) -> Result<Option<crate::store::GameInfo>, crate::store::StoreError> {
                Ok(None)
            }
            async fn load(
                &self,
                _: Uuid,
            ) -> Result<Vec<crate::store::StoredObject>, crate::store::StoreError> {
                Ok(Vec::new())
            }
            async fn write(
                &self,
                _: Uuid,
                _: &[crate::store::StoredObject],
            ) -> Result<(), crate::store::StoreError> {
                Ok(())
            }
            async fn append_history(
                &self,
                _: Uuid,
                _: &[HistoryRecord],
                _: Duration,
            ) -> Result<(), crate::store::StoreError> {
                std::future::pending().await
            }
        }
        let metrics = HistoryMetrics::default();
        let (writer, _task) =
            HistoryWriter::spawn(Arc::new(Stuck), keeping(), 100, metrics.clone());
        let started = std::time::Instant::now();
        for seq in 0..1000 {
            writer.append(
                Uuid::from_u128(1),
                HistoryRecord::update(seq, 0, "{}".into()),
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "appending waited"
        );
        // at most the queue and the round in the writer's hands were kept
        assert!(
            metrics.dropped_count() >= 1000 - 100 - 1,
            "{}",
            metrics.dropped_count()
        );
    }
}
