//! The shared record of every move: when it was sent, whether anyone received it, whether
//! the server rejected it. Bots write it with atomics only (a receiver never waits for a
//! lock), and the report reads it once every bot has stopped.
//!
//! Every bot reads a move's slot when the move reaches it, hundreds of thousands of
//! times a second in all; so a slot is written only a few times in its life (sent,
//! first seen, seen by the mover, rejected) and otherwise only read, which lets every
//! core keep its copy of the cache line. Deliveries are counted by each receiver.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// One move of one bot, indexed by its generation.
#[derive(Default)]
pub struct Slot {
    /// Microseconds since the run's clock base when the move was sent; 0 = never sent.
    sent_us: AtomicU64,
    /// Some bot received the move on its world socket within the run: it was published.
    published: AtomicBool,
    /// The mover itself received it.
    delivered_to_self: AtomicBool,
    /// The server answered the move with another position: a rejection.
    rejected: AtomicBool,
}

/// Every move of every bot; generation `g` of bot `b` is `moves[b][g - 1]`.
pub struct Ledger {
    /// One fixed-size row per bot, sized for the most moves a bot can send.
    moves: Vec<Box<[Slot]>>,
}

/// What the ledger adds up to at the end of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Moves sent by all bots.
    pub sent: u64,
    /// Moves the server answered with another position than asked (a snap-back), on
    /// either socket.
    pub rejected: u64,
    /// Moves seen on at least one world socket: accepted or snapped back, and published.
    pub published: u64,
    /// Rejected moves answered to the mover alone (on its player socket), which nobody
    /// else is expected to receive.
    pub rejected_privately: u64,
    /// Moves neither published nor rejected by the end of the grace period.
    pub unanswered: u64,
    /// Published moves the mover itself received.
    pub self_received: u64,
}

impl Tally {
    /// Moves every bot is expected to receive: all but those rejected privately.
    pub fn expected_per_receiver(&self) -> u64 {
        self.sent - self.rejected_privately
    }
}

impl Ledger {
    pub fn new(bots: usize, max_moves: usize) -> Self {
        let moves = (0..bots)
            .map(|_| (0..max_moves).map(|_| Slot::default()).collect())
            .collect();
        Ledger { moves }
    }

    fn slot(&self, bot: usize, generation: i32) -> Option<&Slot> {
        let row = self.moves.get(bot)?;
        let i = usize::try_from(generation).ok()?.checked_sub(1)?;
        row.get(i)
    }

    /// Whether bot `bot` can still send generation `generation`.
    pub fn has_room(&self, bot: usize, generation: i32) -> bool {
        self.slot(bot, generation).is_some()
    }

    pub fn record_sent(&self, bot: usize, generation: i32, at_us: u64) {
        if let Some(slot) = self.slot(bot, generation) {
            slot.sent_us.store(at_us.max(1), Ordering::Release);
        }
    }

    /// Records a reader's delivery of move `generation` of `mover` once: a generation
    /// below 1 is no move, and one at or below the last the reader saw of `mover`
    /// (`last_seen`, per bot) is counted in `duplicates` and not recorded. Returns when
    /// the move was sent, as [`Ledger::record_delivery`].
    pub fn record_first_delivery(
        &self,
        last_seen: &mut [i32],
        duplicates: &mut u64,
        mover: usize,
        generation: i32,
        receiver: usize,
    ) -> Option<u64> {
        if generation < 1 {
            return None;
        }
        if generation <= last_seen[mover] {
            *duplicates += 1;
            return None;
        }
        last_seen[mover] = generation;
        self.record_delivery(mover, generation, receiver)
    }

    /// Records that `receiver` got move `generation` of `mover`; returns when the move
    /// was sent, or `None` for a move this run never sent (a stranger's, or before the
    /// run started).
    pub fn record_delivery(&self, mover: usize, generation: i32, receiver: usize) -> Option<u64> {
        let slot = self.slot(mover, generation)?;
        let sent = slot.sent_us.load(Ordering::Acquire);
        if sent == 0 {
            return None;
        }
        // a load before the store keeps the line shared once the flag is set
        if !slot.published.load(Ordering::Relaxed) {
            slot.published.store(true, Ordering::Relaxed);
        }
        if mover == receiver {
            slot.delivered_to_self.store(true, Ordering::Relaxed);
        }
        Some(sent)
    }

    pub fn record_rejected(&self, bot: usize, generation: i32) {
        if let Some(slot) = self.slot(bot, generation) {
            slot.rejected.store(true, Ordering::Relaxed);
        }
    }

    /// Adds every row up; call once the bots have stopped.
    pub fn tally(&self) -> Tally {
        self.tally_of(0..self.moves.len())
    }

    /// Adds up the rows of `bots` (those of one game, say); call once the bots have
    /// stopped.
    pub fn tally_of(&self, bots: impl IntoIterator<Item = usize>) -> Tally {
        let mut t = Tally::default();
        let rows = bots.into_iter().filter_map(|bot| self.moves.get(bot));
        for slot in rows.flat_map(|row| row.iter()) {
            if slot.sent_us.load(Ordering::Acquire) == 0 {
                continue;
            }
            t.sent += 1;
            let published = slot.published.load(Ordering::Relaxed);
            let rejected = slot.rejected.load(Ordering::Relaxed);
            t.self_received += u64::from(slot.delivered_to_self.load(Ordering::Relaxed));
            t.rejected += u64::from(rejected);
            match (published, rejected) {
                (true, _) => t.published += 1,
                (false, true) => t.rejected_privately += 1,
                (false, false) => t.unanswered += 1,
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_counts_published_rejected_and_unanswered_moves_apart() {
        let ledger = Ledger::new(3, 4);
        // bot 0: generation 1 published to all three, generation 2 rejected,
        // generation 3 never answered
        ledger.record_sent(0, 1, 10);
        for receiver in 0..3 {
            assert_eq!(ledger.record_delivery(0, 1, receiver), Some(10));
        }
        ledger.record_sent(0, 2, 20);
        ledger.record_rejected(0, 2);
        ledger.record_sent(0, 3, 30);
        // bot 1: generation 1 reached only bot 2
        ledger.record_sent(1, 1, 40);
        ledger.record_delivery(1, 1, 2);
        assert_eq!(
            ledger.tally(),
            Tally {
                sent: 4,
                rejected: 1,
                published: 2,
                rejected_privately: 1,
                unanswered: 1,
                self_received: 1,
            }
        );
    }

    #[test]
    fn a_reader_records_each_move_once_and_counts_what_comes_again_or_older() {
        let ledger = Ledger::new(2, 4);
        ledger.record_sent(0, 1, 10);
        ledger.record_sent(0, 2, 20);
        let (mut last_seen, mut duplicates) = (vec![0; 2], 0);
        let mut deliver = |generation| {
            ledger.record_first_delivery(&mut last_seen, &mut duplicates, 0, generation, 1)
        };
        assert_eq!(deliver(0), None, "no move");
        assert_eq!(deliver(2), Some(20));
        assert_eq!(deliver(2), None, "again");
        assert_eq!(deliver(1), None, "older");
        assert_eq!((last_seen[0], duplicates), (2, 2));
    }

    #[test]
    fn deliveries_of_moves_never_sent_or_out_of_range_are_not_counted() {
        let ledger = Ledger::new(1, 2);
        assert_eq!(ledger.record_delivery(0, 1, 0), None);
        assert_eq!(ledger.record_delivery(0, 0, 0), None);
        assert_eq!(ledger.record_delivery(0, 3, 0), None);
        assert_eq!(ledger.record_delivery(5, 1, 0), None);
        assert!(!ledger.has_room(0, 3));
        assert_eq!(ledger.tally(), Tally::default());
    }
}
