//! Fencing: which world frames count. Each take-over of a game bumps the game's epoch
//! (one Cassandra lightweight transaction, see `store::Store::claim_epoch`); the owner
//! stamps every world frame with its epoch, and every instance drops a frame whose epoch
//! is older than the newest it has seen for that game. The world topic is one
//! non-partitioned topic, so every instance reads the frames in one order and drops the
//! same ones: what a stale owner does after the new owner's first frame is ignored by
//! everyone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use protocol::Uuid;
use tokio::sync::mpsc;

/// One instance's fencing state, shared by the cluster (which claims and releases
/// games) and the world bus (which stamps what it publishes and filters what it
/// receives).
pub struct Fence {
    /// A `std` mutex: held for map operations, never across an `.await`.
    state: Mutex<FenceState>,
    /// Told when a newer owner of a game this instance owns has spoken.
    fenced: mpsc::UnboundedSender<Uuid>,
}

#[derive(Default)]
struct FenceState {
    /// The epoch of each game this instance owns now.
    own: HashMap<Uuid, u64>,
    /// The newest epoch seen on the world topic per game.
    seen: Epochs,
}

impl Fence {
    /// A fence, and the receiver of the games this instance was fenced off from.
    pub fn new() -> (Arc<Fence>, mpsc::UnboundedReceiver<Uuid>) {
        let (fenced, rx) = mpsc::unbounded_channel();
        let fence = Fence {
            state: Mutex::default(),
            fenced,
        };
        (Arc::new(fence), rx)
    }

    /// This instance owns `game` at `epoch` from now on.
    pub fn own(&self, game: Uuid, epoch: u64) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.state.lock().unwrap().own.insert(game, epoch);
    }

    /// This instance no longer owns `game` at `epoch` (a later claim is kept).
    pub fn release(&self, game: Uuid, epoch: u64) {
        // unwrap: as in `own`
        let mut state = self.state.lock().unwrap();
        if state.own.get(&game) == Some(&epoch) {
            state.own.remove(&game);
        }
    }

    /// The epoch to stamp on a frame of `game` published here; `None` when this
    /// instance does not own the game, and so must not publish for it.
    pub fn stamp(&self, game: Uuid) -> Option<u64> {
        // unwrap: as in `own`
        self.state.lock().unwrap().own.get(&game).copied()
    }

    /// A world frame of `game` stamped `epoch` arrived: whether it counts. A frame of
    /// a newer owner of a game this instance owns fences this instance off from it.
    pub fn observe(&self, game: Uuid, epoch: u64) -> Verdict {
        // unwrap: as in `own`
        let mut state = self.state.lock().unwrap();
        let verdict = state.seen.observe(game, epoch);
        if verdict == Verdict::Deliver && state.own.get(&game).is_some_and(|own| *own < epoch) {
            state.own.remove(&game);
            tracing::warn!(%game, epoch, "a newer owner took this game over: fenced off");
            let _ = self.fenced.send(game);
        }
        verdict
    }
}

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

    #[test]
    fn an_owner_stamps_its_epoch_until_a_newer_owner_speaks() {
        let game = Uuid::from_u128(1);
        let (fence, mut fenced) = Fence::new();
        assert_eq!(fence.stamp(game), None, "not owned: nothing to publish");
        fence.own(game, 2);
        assert_eq!(fence.stamp(game), Some(2));
        assert_eq!(fence.observe(game, 2), Verdict::Deliver);
        assert!(fenced.try_recv().is_err());
        assert_eq!(fence.observe(game, 3), Verdict::Deliver);
        assert_eq!(fenced.try_recv().unwrap(), game);
        assert_eq!(fence.stamp(game), None, "fenced off");
        assert_eq!(fence.observe(game, 2), Verdict::Stale);
        fence.own(game, 4);
        fence.release(game, 3);
        assert_eq!(fence.stamp(game), Some(4), "a later claim stays");
        fence.release(game, 4);
        assert_eq!(fence.stamp(game), None);
    }
}
