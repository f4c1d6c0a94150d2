//! Every game's history (docs/protocol.md, "History"): each validated update kept in
//! order of `seq`, with a snapshot of the whole game now and then, so that its state
//! at any moment kept is one snapshot plus the updates after it.
//!
//! - [`writer`]: the rooms hand their records to the [`writer::HistoryWriter`], which
//!   appends them to the store behind the game's back (bounded: a full queue drops
//!   records, counted) and drops what is older than the retention.
//! - [`window`]: what the history API reads: a window (the snapshot at or before
//!   `from`, then the updates up to `to`, bounded) and the span.
//! - [`forget`]: games nobody played for a while are forgotten, with their history.
//! - [`metrics`]: their figures.

pub mod forget;
pub mod metrics;
pub mod window;
pub mod writer;

use std::time::Duration;

/// How history is kept, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct Keeping {
    /// How long a record is kept (`--history-secs`); zero: no history at all (the
    /// rooms make no records).
    pub retention: Duration,
    /// How often a room snapshots its game while updates happen
    /// (`--history-snapshot-secs`).
    pub snapshot_every: Duration,
}
