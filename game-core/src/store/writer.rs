//! Write-behind: rooms hand rows over and move on; this task writes them.
//!
//! One writer serves every game of the instance. Rows for the same object coalesce (the
//! latest wins), so a store that is slow or away costs memory bounded by the number of
//! objects, never by the number of moves. Failed writes are retried with exponential
//! backoff while new rows keep coalescing; rows are written in arrival order per object,
//! since a batch only ever holds each object's latest row. A room that is about to be
//! unloaded asks for a [`StoreWriter::flushed`] barrier, so the game is loaded back from
//! rows that are all written. When every [`StoreWriter`] handle is dropped, the task
//! writes what is left, flushes the store and ends.
//!
//! A cluster's host hands over a [`Checkpoint`] now and then (where the game's rows
//! stand on the world topic); it coalesces too (the latest wins), and goes to the
//! store only with a batch that holds every row of its game still waiting, so it is
//! never stored ahead of a row handed over before it.

pub mod metrics;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::Uuid;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Checkpoint, ObjectKind, Store, StoredObject};
use metrics::StoreMetrics;

/// Largest batch handed to the store in one call (always rows of one game).
const MAX_BATCH: usize = 512;
/// First pause after a failed write; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long shutdown keeps retrying before it gives up on what is left (and says so).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What rooms send to the writer task.
enum Order {
    /// Write this row of this game.
    Row(Uuid, StoredObject),
    /// Record this checkpoint of this game once the rows handed over before are in.
    Checkpoint(Uuid, Checkpoint),
    /// Answer once every row of this game handed over before is written.
    Flushed(Uuid, oneshot::Sender<()>),
}

/// The rooms' side of the writer. Cloning is cheap.
#[derive(Clone)]
pub struct StoreWriter {
    /// Orders on their way to the writer task. Unbounded on purpose: the task drains it
    /// continuously (also while backing off), so it holds only what arrived since the
    /// last loop turn, and a room must never wait here.
    tx: mpsc::UnboundedSender<Order>,
    /// Counters for `/metrics`.
    metrics: StoreMetrics,
    /// The store, for what is not a row (when a game was played).
    store: Arc<dyn Store>,
}

impl StoreWriter {
    /// Starts the writer; the handle completes once everything handed over was written
    /// (or given up on) after the last [`StoreWriter`] is dropped.
    pub fn spawn(store: Arc<dyn Store>, metrics: StoreMetrics) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store.clone(), rx, metrics.clone()));
        (StoreWriter { tx, metrics, store }, task)
    }

    /// Queues `row` of `game` for writing; never waits.
    pub fn upsert(&self, game: Uuid, row: StoredObject) {
        self.metrics.store_rows_queued(1);
        if self.tx.send(Order::Row(game, row)).is_err() {
            // only after the writer task died, which it does not do while handles exist
            tracing::error!("store writer is gone; a row was not persisted");
        }
    }

    /// Tells the store that `game` was played at `at` (a room does, at most once a
    /// minute while it is played); never waits. Not retried: a failure is logged, and
    /// the next minute tells it again.
    pub fn played(&self, game: Uuid, at: i64) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.game_played(game, at).await {
                tracing::warn!(%game, error = %e, "cannot record when the game was played");
            }
        });
    }

    /// Records `checkpoint` for `game` once every row of it handed over before this
    /// call is written (with the last of them); never waits. A later checkpoint of the
    /// game replaces one still waiting.
    pub fn checkpoint(&self, game: Uuid, checkpoint: Checkpoint) {
        if self.tx.send(Order::Checkpoint(game, checkpoint)).is_err() {
            tracing::error!("store writer is gone; a checkpoint was not recorded");
        }
    }

    /// Completes once every row of `game` handed over before this call is written. It
    /// waits as long as the store fails (the writer keeps retrying); the caller decides
    /// how long to wait.
    pub async fn flushed(&self, game: Uuid) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Order::Flushed(game, done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// What one game has waiting.
#[derive(Default)]
struct GamePending {
    /// Its rows by object key.
    rows: HashMap<(ObjectKind, Uuid), StoredObject>,
    /// Its latest checkpoint not yet recorded.
    checkpoint: Option<Checkpoint>,
}

/// One call to the store: rows of one game, and its checkpoint when the rows are all
/// it has waiting.
struct Batch {
    game: Uuid,
    rows: Vec<StoredObject>,
    checkpoint: Option<Checkpoint>,
}

/// The rows not yet written, latest per object, by game.
#[derive(Default)]
struct Pending {
    /// Game to what it has waiting.
    games: HashMap<Uuid, GamePending>,
    /// Barriers waiting for a game's rows to be written.
    barriers: Vec<(Uuid, oneshot::Sender<()>)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.games.is_empty()
    }

    fn rows(&self) -> usize {
        self.games.values().map(|g| g.rows.len()).sum()
    }

    fn absorb(&mut self, order: Order, metrics: &StoreMetrics) {
        match order {
            Order::Row(game, row) => {
                if self
                    .games
                    .entry(game)
                    .or_default()
                    .rows
                    .insert(row.key(), row)
                    .is_some()
                {
                    // replaced a row still waiting: one less to write
                    metrics.store_rows_done(1);
                }
            }
            Order::Checkpoint(game, checkpoint) => {
                self.games.entry(game).or_default().checkpoint = Some(checkpoint);
            }
            Order::Flushed(game, done) => {
                if self.games.contains_key(&game) {
                    self.barriers.push((game, done));
                } else {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Up to [`MAX_BATCH`] rows of one game, with its checkpoint when they are all
    /// of its rows waiting; games take turns as the map iterates.
    fn next_batch(&self) -> Option<Batch> {
        let (game, pending) = self.games.iter().next()?;
        let whole = pending.rows.len() <= MAX_BATCH;
        Some(Batch {
            game: *game,
            rows: pending.rows.values().take(MAX_BATCH).cloned().collect(),
            checkpoint: pending.checkpoint.clone().filter(|_| whole),
        })
    }

    /// Forgets what of `batch` was written, and answers the barriers of games that
    /// have nothing left.
    fn written(&mut self, batch: &Batch) {
        if let Some(pending) = self.games.get_mut(&batch.game) {
            for row in &batch.rows {
                pending.rows.remove(&row.key());
            }
            // nothing is absorbed between taking a batch and writing it: a checkpoint
            // waiting now is the one written
            if batch.checkpoint.is_some() {
                pending.checkpoint = None;
            }
            if pending.rows.is_empty() && pending.checkpoint.is_none() {
                self.games.remove(&batch.game);
            }
        }
        let games = &self.games;
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.barriers)
            .into_iter()
            .partition(|(g, _)| !games.contains_key(g));
        self.barriers = waiting;
        for (_, tx) in done {
            let _ = tx.send(());
        }
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Order>, metrics: StoreMetrics) {
    let mut pending = Pending::default();
    let mut backoff = FIRST_BACKOFF;
    let mut open = true;
    let mut shutdown_deadline = None;
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(order) => pending.absorb(order, &metrics),
                None => break,
            }
        }
        while let Ok(order) = rx.try_recv() {
            pending.absorb(order, &metrics);
        }
        let Some(batch) = pending.next_batch() else {
            continue; // only barriers arrived, answered already
        };
        let started = Instant::now();
        let written = match &batch.checkpoint {
            Some(checkpoint) => {
                store
                    .write_checkpointed(batch.game, &batch.rows, checkpoint)
                    .await
            }
            None => store.write(batch.game, &batch.rows).await,
        };
        match written {
            Ok(()) => {
                metrics.observe_store_write(started.elapsed());
                pending.written(&batch);
                metrics.store_rows_done(batch.rows.len());
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                metrics.store_write_failed();
                tracing::warn!(error = %e, rows = pending.rows(), retry_in = ?backoff, "store write failed; retrying");
                if let Some(deadline) = shutdown_deadline {
                    if Instant::now() >= deadline {
                        tracing::error!(
                            rows = pending.rows(),
                            "store still failing at shutdown; these rows were not persisted"
                        );
                        return;
                    }
                }
                // keep coalescing while waiting, so the channel never piles up
                let wake = tokio::time::sleep(backoff);
                tokio::pin!(wake);
                loop {
                    tokio::select! {
                        _ = &mut wake => break,
                        order = rx.recv(), if open => match order {
                            Some(order) => pending.absorb(order, &metrics),
                            None => open = false,
                        },
                    }
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        if !open && shutdown_deadline.is_none() {
            shutdown_deadline = Some(Instant::now() + SHUTDOWN_GRACE);
        }
        if !open && pending.is_empty() {
            break;
        }
    }
    if let Err(e) = store.flush().await {
        tracing::error!(error = %e, "store flush failed at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{GameInfo, StoreError};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// A store that records each write call (its rows and checkpoint) and fails the
    /// first `failures` of them.
    #[derive(Default)]
    struct Recording {
        calls: Mutex<Vec<(usize, Option<Checkpoint>)>>,
        failures: Mutex<usize>,
    }

    impl Recording {
        fn record(&self, rows: usize, checkpoint: Option<&Checkpoint>) -> Result<(), StoreError> {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(StoreError::Backend("away".into()));
            }
            self.calls.lock().unwrap().push((rows, checkpoint.cloned()));
            Ok(())
        }
    }

    #[async_trait]
    impl Store for Recording {
        async fn current_game(&self) -> Result<Option<Uuid>, StoreError> {
            Ok(None)
        }
        async fn set_current_game(&self, _: Uuid) -> Result<(), StoreError> {
            Ok(())
        }
        async fn create_game(&self, _: &GameInfo) -> Result<(), StoreError> {
            Ok(())
        }
        async fn games(&self) -> Result<Vec<GameInfo>, StoreError> {
            Ok(Vec::new())
        }
        async fn game(&self, _: Uuid) -> Result<Option<GameInfo>, StoreError> {
            Ok(None)
        }
        async fn load(&self, _: Uuid) -> Result<Vec<StoredObject>, StoreError> {
            Ok(Vec::new())
        }
        async fn write(&self, _: Uuid, batch: &[StoredObject]) -> Result<(), StoreError> {
            self.record(batch.len(), None)
        }
        async fn write_checkpointed(
            &self,
            _: Uuid,
            batch: &[StoredObject],
            checkpoint: &Checkpoint,
        ) -> Result<(), StoreError> {
            self.record(batch.len(), Some(checkpoint))
        }
    }

    fn row(n: u128) -> StoredObject {
        StoredObject {
            kind: ObjectKind::Brick,
            object_id: Uuid::from_u128(n),
            active: true,
            x: 0,
            y: 0,
            h: false,
            generation: 0,
            name: "b".into(),
            score: 0,
            expires_ms: None,
            token_hash: None,
        }
    }

    fn at(position: &str) -> Checkpoint {
        Checkpoint {
            position: position.into(),
            epoch: 1,
        }
    }

    /// Hands `orders` to a writer over `store` in one go, then waits until it wrote
    /// everything; the store's calls.
    async fn run_orders(
        store: Arc<Recording>,
        orders: impl FnOnce(&StoreWriter),
    ) -> Vec<(usize, Option<Checkpoint>)> {
        let (writer, task) = StoreWriter::spawn(store.clone(), StoreMetrics::default());
        orders(&writer);
        drop(writer);
        task.await.unwrap();
        let calls = store.calls.lock().unwrap().clone();
        calls
    }

    #[tokio::test]
    async fn a_checkpoint_goes_with_the_last_of_the_rows_handed_over_before_it() {
        let game = Uuid::from_u128(7);
        let calls = run_orders(Arc::default(), |w| {
            for n in 0..(MAX_BATCH as u128 + 88) {
                w.upsert(game, row(n));
            }
            w.checkpoint(game, at("1:2"));
        })
        .await;
        // the first batch leaves rows waiting: no checkpoint with it
        assert_eq!(calls, [(MAX_BATCH, None), (88, Some(at("1:2")))]);
    }

    #[tokio::test]
    async fn a_checkpoint_with_no_row_waiting_is_recorded_alone() {
        let game = Uuid::from_u128(7);
        let calls = run_orders(Arc::default(), |w| w.checkpoint(game, at("1:2"))).await;
        assert_eq!(calls, [(0, Some(at("1:2")))]);
    }

    #[tokio::test]
    async fn while_the_store_fails_the_latest_checkpoint_waits_with_the_rows() {
        let game = Uuid::from_u128(7);
        let store = Arc::new(Recording::default());
        *store.failures.lock().unwrap() = 2;
        let calls = run_orders(store, |w| {
            w.upsert(game, row(1));
            w.checkpoint(game, at("1:2"));
            w.upsert(game, row(2));
            w.checkpoint(game, at("1:5"));
        })
        .await;
        assert_eq!(calls, [(2, Some(at("1:5")))]);
    }
}
