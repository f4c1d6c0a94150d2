//! What the history API reads (docs/protocol.md, "History"): a window of a game's
//! history and its span.
//!
//! A window from `from` is the latest snapshot with `t <= from`, then every update
//! after it (`seq` above the snapshot's) with `t <= to`: applied in order to an empty
//! board, it gives the game's state at every moment from the snapshot to `to`. Without
//! `from` (or before the first snapshot kept) it starts at the first snapshot kept. A
//! window holds at most [`MAX_UPDATES`] updates; a client asks for the rest with the
//! next window.

use protocol::Uuid;

use crate::store::{HistoryRecord, Store, StoreError};

/// Most updates in one window (about 8 minutes of 100 players x 2 moves/s; a few MB).
pub const MAX_UPDATES: usize = 100_000;

/// One window of a game's history.
#[derive(Debug, Default)]
pub struct Window {
    /// The snapshot first (when one is kept), then the updates in order.
    pub records: Vec<HistoryRecord>,
    /// Whether updates up to `to` were left out ([`MAX_UPDATES`]).
    pub truncated: bool,
}

/// The window of `game` from `from` (or the first snapshot) to `to`, with at most
/// `limit` updates.
pub async fn window(
    store: &dyn Store,
    game: Uuid,
    from: Option<i64>,
    to: i64,
    limit: usize,
) -> Result<Window, StoreError> {
    let snapshot = match from {
        Some(from) => match store.history_snapshot(game, Some(from)).await? {
            Some(snapshot) => Some(snapshot),
            // before the history kept: from its start
            None => store.history_snapshot(game, None).await?,
        },
        None => store.history_snapshot(game, None).await?,
    };
    let Some(snapshot) = snapshot else {
        return Ok(Window::default());
    };
    if snapshot.t > to {
        return Ok(Window::default());
    }
    let mut updates = store
        .history_updates(game, snapshot.seq, snapshot.t, to, limit.saturating_add(1))
        .await?;
    let truncated = updates.len() > limit;
    updates.truncate(limit);
    let mut records = Vec::with_capacity(updates.len() + 1);
    records.push(snapshot);
    records.extend(updates);
    Ok(Window { records, truncated })
}

/// The times of the first and last records kept of `game`.
pub async fn span(store: &dyn Store, game: Uuid) -> Result<Option<(i64, i64)>, StoreError> {
    store.history_span(game).await
}
