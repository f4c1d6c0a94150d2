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

pub mod metrics;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::Uuid;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ObjectKind, Store, StoredObject};
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
}

impl StoreWriter {
    /// Starts the writer; the handle completes once everything handed over was written
    /// (or given up on) after the last [`StoreWriter`] is dropped.
    pub fn spawn(store: Arc<dyn Store>, metrics: StoreMetrics) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store, rx, metrics.clone()));
        (StoreWriter { tx, metrics }, task)
    }

    /// Queues `row` of `game` for writing; never waits.
    pub fn upsert(&self, game: Uuid, row: StoredObject) {
        self.metrics.store_rows_queued(1);
        if self.tx.send(Order::Row(game, row)).is_err() {
            // only after the writer task died, which it does not do while handles exist
            tracing::error!("store writer is gone; a row was not persisted");
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

/// The rows not yet written, latest per object, by game.
#[derive(Default)]
struct Pending {
    /// Game to its rows by object key.
    games: HashMap<Uuid, HashMap<(ObjectKind, Uuid), StoredObject>>,
    /// Barriers waiting for a game's rows to be written.
    barriers: Vec<(Uuid, oneshot::Sender<()>)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.games.is_empty()
    }

    fn rows(&self) -> usize {
        self.games.values().map(HashMap::len).sum()
    }

    fn absorb(&mut self, order: Order, metrics: &StoreMetrics) {
        match order {
            Order::Row(game, row) => {
                if self
                    .games
                    .entry(game)
                    .or_default()
                    .insert(row.key(), row)
                    .is_some()
                {
                    // replaced a row still waiting: one less to write
                    metrics.store_rows_done(1);
                }
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

    /// Up to [`MAX_BATCH`] rows of one game; games take turns as the map iterates.
    fn next_batch(&self) -> Option<(Uuid, Vec<StoredObject>)> {
        let (game, rows) = self.games.iter().next()?;
        Some((*game, rows.values().take(MAX_BATCH).cloned().collect()))
    }

    /// Forgets the rows of `batch` that were written, and answers the barriers of games
    /// that have nothing left.
    fn written(&mut self, game: Uuid, batch: &[StoredObject]) {
        if let Some(rows) = self.games.get_mut(&game) {
            for row in batch {
                rows.remove(&row.key());
            }
            if rows.is_empty() {
                self.games.remove(&game);
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
        let Some((game, batch)) = pending.next_batch() else {
            continue; // only barriers arrived, answered already
        };
        let started = Instant::now();
        match store.write(game, &batch).await {
            Ok(()) => {
                metrics.observe_store_write(started.elapsed());
                pending.written(game, &batch);
                metrics.store_rows_done(batch.len());
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
