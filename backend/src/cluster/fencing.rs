//! Fencing: which world frames count. Each take-over of a game bumps the game's epoch
//! (one Cassandra lightweight transaction, see `store::Store::claim_epoch`); the owner
//! stamps every world frame with its epoch, and every instance drops a frame whose epoch
//! is older than the newest it has seen for that game. The world topic is one
//! non-partitioned topic, so every instance reads the frames in one order and drops the
//! same ones: what a stale owner does after the new owner's first frame is ignored by
//! everyone.

use std::collections::HashMap;

use protocol::Uuid;

/// The newest epoch seen per game, on one instance.
#[derive(Debug, Default)]
pub struct Epochs {
    /// Game to the newest epoch one of its frames carried.
    newest: HashMap<Uuid, u64>,
}

/// What to do with one world frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it.
    Deliver,
    /// Drop it: a newer owner has spoken for this game.
    Stale,
}

impl Epochs {
    /// Records a frame of `game` stamped `epoch`, and says whether it counts.
    pub fn observe(&mut self, game: Uuid, epoch: u64) -> Verdict {
        let newest = self.newest.entry(game).or_insert(epoch);
        if epoch < *newest {
            return Verdict::Stale;
        }
        *newest = epoch;
        Verdict::Deliver
    }

    /// The newest epoch seen for `game`.
    pub fn newest(&self, game: Uuid) -> Option<u64> {
        self.newest.get(&game).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_older_than_the_newest_epoch_is_dropped() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut epochs = Epochs::default();
        let seen: Vec<Verdict> = [(a, 1), (a, 1), (a, 2), (a, 1), (b, 1), (a, 2), (a, 3)]
            .into_iter()
            .map(|(g, e)| epochs.observe(g, e))
            .collect();
        use Verdict::*;
        assert_eq!(
            seen,
            [Deliver, Deliver, Deliver, Stale, Deliver, Deliver, Deliver]
        );
        assert_eq!(epochs.newest(a), Some(3));
        assert_eq!(epochs.newest(Uuid::from_u128(9)), None);
    }
}
