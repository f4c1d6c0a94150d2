//! Write-behind: the room hands rows over and moves on; this task writes them.
//!
//! Rows for the same object coalesce (the latest wins), so a store that is slow or away
//! costs memory bounded by the number of objects, never by the number of moves. Failed
//! writes are retried with exponential backoff while new rows keep coalescing; rows are
//! written in arrival order per object, since a batch only ever holds each object's
//! latest row. When every [`StoreWriter`] handle is dropped, the task writes what is
//! left, flushes the store and ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::Uuid;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{ObjectKind, Store, StoredObject};
use crate::metrics::Metrics;

/// Largest batch handed to the store in one call.
const MAX_BATCH: usize = 512;
/// First pause after a failed write; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long shutdown keeps retrying before it gives up on what is left (and says so).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The room's side of the writer. Cloning is cheap.
#[derive(Clone)]
pub struct StoreWriter {
    /// Rows on their way to the writer task. Unbounded on purpose: the task drains it
    /// continuously (also while backing off), so it holds only what arrived since the
    /// last loop turn, and the room must never wait here.
    tx: mpsc::UnboundedSender<StoredObject>,
    /// Counters for `/metrics`.
    metrics: Arc<Metrics>,
}

impl StoreWriter {
    /// Starts the writer for `game`; the handle completes once everything handed over was
    /// written (or given up on) after the last [`StoreWriter`] is dropped.
    pub fn spawn(
        store: Arc<dyn Store>,
        game: Uuid,
        metrics: Arc<Metrics>,
    ) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store, game, rx, metrics.clone()));
        (StoreWriter { tx, metrics }, task)
    }

    /// Queues `row` for writing; never waits.
    pub fn upsert(&self, row: StoredObject) {
        self.metrics.store_rows_queued(1);
        if self.tx.send(row).is_err() {
            // only after the writer task died, which it does not do while handles exist
            tracing::error!("store writer is gone; a row was not persisted");
        }
    }
}

/// The rows not yet written, latest per object.
type Pending = HashMap<(ObjectKind, Uuid), StoredObject>;

fn absorb(pending: &mut Pending, row: StoredObject, metrics: &Metrics) {
    if pending.insert(row.key(), row).is_some() {
        // replaced a row still waiting: one less to write
        metrics.store_rows_done(1);
    }
}

async fn run(
    store: Arc<dyn Store>,
    game: Uuid,
    mut rx: mpsc::UnboundedReceiver<StoredObject>,
    metrics: Arc<Metrics>,
) {
    let mut pending = Pending::new();
    let mut backoff = FIRST_BACKOFF;
    let mut open = true;
    let mut shutdown_deadline = None;
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(row) => absorb(&mut pending, row, &metrics),
                None => break,
            }
        }
        while let Ok(row) = rx.try_recv() {
            absorb(&mut pending, row, &metrics);
        }
        let batch: Vec<StoredObject> = pending.values().take(MAX_BATCH).cloned().collect();
        let started = Instant::now();
        match store.write(game, &batch).await {
            Ok(()) => {
                metrics.observe_store_write(started.elapsed());
                for row in &batch {
                    pending.remove(&row.key());
                }
                metrics.store_rows_done(batch.len());
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                metrics.store_write_failed();
                tracing::warn!(error = %e, rows = pending.len(), retry_in = ?backoff, "store write failed; retrying");
                if let Some(deadline) = shutdown_deadline {
                    if Instant::now() >= deadline {
                        tracing::error!(
                            rows = pending.len(),
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
                        row = rx.recv(), if open => match row {
                            Some(row) => absorb(&mut pending, row, &metrics),
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
