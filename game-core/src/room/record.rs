//! What a room keeps of its game besides its rows: the history's snapshots (with the
//! game's last chat lines, which no row holds), and when the game was last played.
//!
//! The updates themselves go to history as the [`World`] publishes them; here the room
//! adds a snapshot when it loads the game and then every `--history-snapshot-secs`
//! while updates happen, so that a seek reads one snapshot and at most that many
//! seconds of updates. It also tells the store, at most once a minute, that the game
//! was played (the rule that forgets games nobody plays reads it).

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::Uuid;
use rules::game::Game;

use super::frames::{self, World};
use crate::bus::Frame;
use crate::clock::Clock;
use crate::history::writer::HistoryWriter;
use crate::store::{writer::StoreWriter, HistoryRecord};

/// Chat lines a snapshot carries.
pub(super) const SNAPSHOT_CHAT: usize = 10;
/// How often a game being played says so to the store.
const PLAYED_EVERY_MS: i64 = 60_000;

/// A room's record keeping.
pub(super) struct Record {
    game: Uuid,
    /// Where snapshots go (`None`: no history kept).
    history: Option<HistoryWriter>,
    /// Where "played" goes.
    writer: StoreWriter,
    clock: Arc<dyn Clock>,
    /// The game's last chat lines, oldest first.
    chat: VecDeque<Frame>,
    /// The number of the last update the last snapshot includes, and its time.
    snapshot: Option<(u64, i64)>,
    /// The number of the last update when the store was last told the game was
    /// played, and when.
    played: Option<(u64, i64)>,
}

impl Record {
    pub(super) fn new(
        game: Uuid,
        history: Option<HistoryWriter>,
        writer: StoreWriter,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Record {
            game,
            history,
            writer,
            clock,
            chat: VecDeque::with_capacity(SNAPSHOT_CHAT),
            snapshot: None,
            played: None,
        }
    }

    /// A chat line was said (it is published as an update too).
    pub(super) fn chat(&mut self, line: &Frame) {
        if self.history.is_none() {
            return;
        }
        if self.chat.len() == SNAPSHOT_CHAT {
            self.chat.pop_front();
        }
        self.chat.push_back(line.clone());
    }

    /// After each command (and once at load): a snapshot when the game has none yet,
    /// or when updates happened and the last is `--history-snapshot-secs` old; the
    /// store told the game was played, once a minute while it is.
    pub(super) fn tick(&mut self, game: &Game, world: &World) {
        let last = world.last_seq();
        let now = self.clock.now_ms();
        let played_due = match self.played {
            None => true,
            Some((seq, at)) => seq != last && now - at >= PLAYED_EVERY_MS,
        };
        if played_due {
            // at load too: a game loaded is being played (someone joined it)
            self.writer.played(self.game, now);
            self.played = Some((last, now));
        }
        let Some(history) = &self.history else {
            return;
        };
        let every = history.snapshot_every().as_millis() as i64;
        let due = match self.snapshot {
            None => true,
            Some((seq, at)) => seq != last && now - at >= every,
        };
        if due {
            let mut frames = frames::snapshot(game);
            frames.extend(self.chat.iter().cloned());
            let record = HistoryRecord::snapshot(last, now, frames.iter().map(|f| &**f));
            history.append(self.game, record);
            self.snapshot = Some((last, now));
        }
    }
}
