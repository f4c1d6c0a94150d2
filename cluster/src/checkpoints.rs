//! The checkpoints a host records: where the game's rows stand on the world topic, so
//! that the next take-over replays from there however long ago it was ([`super::start`]).
//!
//! The first is the take-over's marker, handed to the writer right after the room laid
//! every row again (the state taken over reflects every frame up to the marker). Then,
//! each second, the latest frame of this owner the broker acknowledged: a room hands a
//! frame's rows to the writer before it publishes the frame, so every row behind that
//! frame was handed over before the checkpoint, and the writer stores the checkpoint
//! only with the last of them. A checkpoint waits in the writer while the store is away
//! (the latest replaces the earlier), so the stored one stays behind every row not yet
//! written: a take-over after an outage of any length replays what the store missed.
//!
//! A checkpoint is recorded [`LAG`] after its frame landed, not at once. The next owner
//! gets the commands this one had not acknowledged again, and knows which of them were
//! applied only from the frames it replays (their causes, `redelivery`): a move is also
//! caught by its generation, a chat line is not. A checkpoint at the latest frame let a
//! take-over start past the frames of such commands, and a chat line was shown twice
//! (`cluster::fencing`, an owner that got its game back right after waking). Replaying
//! further back is never wrong, only longer (the frames carry whole state), and the
//! lag is the replay window that covered this before checkpoints.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus_pulsar::positions::{encode, Landed};
use bus_pulsar::PulsarBus;
use game_core::store::writer::StoreWriter;
use game_core::store::Checkpoint;
use protocol::Uuid;
use pulsar::proto::MessageIdData;

use super::fencing::Fence;

/// How long after its frame landed a position becomes the checkpoint.
pub const LAG: Duration = crate::tail::REPLAY_WINDOW;

/// One host's checkpoints.
pub struct Checkpoints {
    /// The game.
    game: Uuid,
    /// The host's epoch.
    epoch: u64,
    /// Where checkpoints go, behind the rows.
    writer: StoreWriter,
    /// Where this instance's frames landed.
    world: Arc<PulsarBus>,
    /// The last position seen landed (recorded now or later).
    last: Option<MessageIdData>,
    /// Positions seen landed and not recorded yet, oldest first, with when.
    pending: VecDeque<(Instant, MessageIdData)>,
}

impl Checkpoints {
    /// Records the take-over's `marker` (when the tail found it) as the first
    /// checkpoint of `game` at `epoch`; call once the room laid its rows.
    pub fn start(
        game: Uuid,
        epoch: u64,
        writer: StoreWriter,
        world: Arc<PulsarBus>,
        marker: Option<MessageIdData>,
    ) -> Self {
        let mut checkpoints = Checkpoints {
            game,
            epoch,
            writer,
            world,
            last: None,
            pending: VecDeque::new(),
        };
        if let Some(marker) = marker {
            checkpoints.record(marker);
        }
        checkpoints
    }

    /// Notes where the latest frame of this owner landed, if that is new and this
    /// instance still owns the game at its epoch (a fenced-off owner records nothing),
    /// and records the newest position noted at least [`LAG`] ago.
    pub fn tick(&mut self, fence: &Fence) {
        let landed = self.world.landed(self.game);
        let owned = fence.stamp(self.game);
        let now = Instant::now();
        if let Some(position) = due(landed, self.epoch, owned, self.last.as_ref()) {
            self.last = Some(position.clone());
            self.pending.push_back((now, position));
        }
        if owned != Some(self.epoch) {
            return;
        }
        if let Some(position) = settled(&mut self.pending, now, LAG) {
            self.record(position);
        }
    }

    /// Records the last settled checkpoint before the host lets the game go (the next
    /// owner replays from up to [`LAG`] further back), and forgets where its frames
    /// landed.
    pub fn finish(mut self, fence: &Fence) {
        self.tick(fence);
        self.world.forget_landed(self.game);
    }

    fn record(&mut self, position: MessageIdData) {
        let checkpoint = Checkpoint {
            position: encode(&position),
            epoch: self.epoch,
        };
        self.writer.checkpoint(self.game, checkpoint);
        self.last = Some(position);
    }
}

/// Takes from `pending` (oldest first) every position noted at least `lag` before
/// `now`, and returns the newest of them.
fn settled(
    pending: &mut VecDeque<(Instant, MessageIdData)>,
    now: Instant,
    lag: Duration,
) -> Option<MessageIdData> {
    let mut newest = None;
    while pending
        .front()
        .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= lag)
    {
        newest = pending.pop_front().map(|(_, position)| position);
    }
    newest
}

/// The position to record as a checkpoint: the latest `landed` frame, when it was
/// published at this host's `epoch`, the game is still `owned` at that epoch, and it
/// is not the `last` one recorded.
fn due(
    landed: Option<Landed>,
    epoch: u64,
    owned: Option<u64>,
    last: Option<&MessageIdData>,
) -> Option<MessageIdData> {
    let landed = landed?;
    let fresh = landed.epoch == epoch && owned == Some(epoch) && last != Some(&landed.id);
    fresh.then_some(landed.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(entry: u64) -> MessageIdData {
        MessageIdData {
            ledger_id: 9,
            entry_id: entry,
            ..Default::default()
        }
    }

    fn landed(entry: u64, epoch: u64) -> Option<Landed> {
        Some(Landed {
            id: id(entry),
            epoch,
        })
    }

    #[test]
    fn a_new_frame_of_this_owner_is_due() {
        assert_eq!(due(landed(5, 3), 3, Some(3), Some(&id(4))), Some(id(5)));
        assert_eq!(due(landed(5, 3), 3, Some(3), None), Some(id(5)));
    }

    #[test]
    fn the_same_frame_again_nothing_landed_or_another_epoch_is_not() {
        assert_eq!(due(landed(5, 3), 3, Some(3), Some(&id(5))), None);
        assert_eq!(due(None, 3, Some(3), None), None);
        // a frame of this instance's earlier host of the game
        assert_eq!(due(landed(5, 2), 3, Some(3), None), None);
    }

    #[test]
    fn a_position_becomes_the_checkpoint_once_it_is_lag_old() {
        let start = Instant::now();
        let lag = Duration::from_secs(15);
        let mut pending: VecDeque<_> = [(0, 1), (5, 2), (14, 3), (20, 4)]
            .into_iter()
            .map(|(s, entry)| (start + Duration::from_secs(s), id(entry)))
            .collect();
        assert_eq!(
            settled(&mut pending, start + Duration::from_secs(10), lag),
            None
        );
        assert_eq!(
            settled(&mut pending, start + Duration::from_secs(20), lag),
            Some(id(2)),
            "the newest of those 15 s old"
        );
        assert_eq!(pending.len(), 2);
        assert_eq!(
            settled(&mut pending, start + Duration::from_secs(40), lag),
            Some(id(4))
        );
        assert!(pending.is_empty());
    }

    #[test]
    fn a_fenced_off_owner_records_nothing() {
        assert_eq!(due(landed(5, 3), 3, None, None), None);
        assert_eq!(due(landed(5, 3), 3, Some(4), None), None);
    }
}
