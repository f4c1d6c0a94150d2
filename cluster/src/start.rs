//! Where a take-over starts reading the world topic, as a plain function: from the
//! game's checkpoint (the position up to which its stored rows reflect every frame,
//! written with them; see `game_core::store::Checkpoint`), however long ago that was.
//!
//! - **A checkpoint of the owner just before this one** (its epoch is the claimed one
//!   less one): from its position. It was stored before this take-over read it, and
//!   the take-over reads it before publishing its marker, so it lies before the marker.
//! - **An older checkpoint** (an owner in between stored none, or a claim's answer was
//!   lost and an epoch skipped): that owner's marker may lie before the checkpoint,
//!   and a fenced-off owner may have stored the checkpoint after it, past frames that
//!   count: from the oldest message the topic keeps.
//! - **No checkpoint but rows** (stored by a version without checkpoints, or the first
//!   owner's checkpoint never reached the store): from the oldest message kept too.
//! - **Nothing stored** (a new game): there is nothing to replay onto; the frames of
//!   the last [`crate::tail::REPLAY_WINDOW`], as before checkpoints, are cheap.
//! - **A position that does not read** (written by hand): from the oldest kept.

use std::fmt;

use game_core::store::Checkpoint;
use pulsar::proto::MessageIdData;

/// Where a take-over starts reading the world topic.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// From a checkpoint: the message at `position`, published by the owner at
    /// `epoch` (a later frame with an older epoch was fenced off).
    At {
        /// The checkpoint's message.
        position: MessageIdData,
        /// Its epoch.
        epoch: u64,
    },
    /// From the oldest message the topic keeps.
    Earliest,
    /// From [`crate::tail::REPLAY_WINDOW`] ago.
    Window,
}

/// Where the take-over of a game claimed at epoch `claimed` starts reading, given the
/// game's `checkpoint` (read before the marker) and whether the store holds rows of it.
pub fn start(checkpoint: Option<&Checkpoint>, has_rows: bool, claimed: u64) -> Start {
    match checkpoint {
        Some(checkpoint) if checkpoint.epoch + 1 == claimed => {
            match bus_pulsar::positions::decode(&checkpoint.position) {
                Ok(position) => Start::At {
                    position,
                    epoch: checkpoint.epoch,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "an unreadable checkpoint: replaying all the topic keeps");
                    Start::Earliest
                }
            }
        }
        Some(_) => Start::Earliest,
        None if has_rows => Start::Earliest,
        None => Start::Window,
    }
}

impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Start::At { position, epoch } => write!(
                f,
                "checkpoint {} (epoch {epoch})",
                bus_pulsar::positions::encode(position)
            ),
            Start::Earliest => f.write_str("the topic's oldest message"),
            Start::Window => f.write_str("the replay window"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(position: &str, epoch: u64) -> Checkpoint {
        Checkpoint {
            position: position.into(),
            epoch,
        }
    }

    #[test]
    fn the_previous_owner_s_checkpoint_is_where_the_replay_starts_however_old() {
        let at = start(Some(&checkpoint("17:42", 4)), true, 5);
        let Start::At { position, epoch } = at else {
            panic!("{at:?}");
        };
        assert_eq!((position.ledger_id, position.entry_id, epoch), (17, 42, 4));
        // rows or none: the checkpoint speaks for what is stored
        assert!(matches!(
            start(Some(&checkpoint("17:42", 4)), false, 5),
            Start::At { .. }
        ));
    }

    #[test]
    fn a_checkpoint_from_before_an_owner_who_stored_none_replays_all_that_is_kept() {
        assert_eq!(
            start(Some(&checkpoint("17:42", 2)), true, 5),
            Start::Earliest
        );
    }

    #[test]
    fn rows_without_a_checkpoint_replay_all_that_is_kept_and_a_new_game_the_window() {
        assert_eq!(start(None, true, 3), Start::Earliest);
        assert_eq!(start(None, false, 1), Start::Window);
    }

    #[test]
    fn an_unreadable_checkpoint_replays_all_that_is_kept() {
        assert_eq!(
            start(Some(&checkpoint("not a position", 4)), true, 5),
            Start::Earliest
        );
    }
}
