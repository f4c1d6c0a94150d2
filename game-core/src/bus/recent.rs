//! A game's latest updates on this instance, to resume a client that reconnects
//! (docs/protocol.md, "Resuming the world stream"): the client names the number of the
//! last update it saw, and if that update is still here, everything after it is sent
//! instead of a brief.
//!
//! Bounded twice: at most `updates` entries, none older than `keep`. An entry is the
//! update's number, when it came, and its encoded message ([`Wire`]), whose bytes the
//! game's ring and the sockets share: the buffer costs the entry (56 bytes) plus the
//! frame's bytes as long as it keeps them (about 150 for a move), so about 200 bytes
//! per update kept, 800 KiB for a game at the default 4,096.
//!
//! Why "the update named is here" and not "numbers are contiguous": numbers only grow
//! along a game's stream, but jump where an owner takes the game over (it starts from
//! the clock, docs/protocol.md), so the buffer answers only from an update it holds:
//! everything this instance delivered after it is then in the buffer, in order, as
//! every world socket here received it. A number it does not hold (too old, from the
//! future, another game's) gets no answer, and the client a brief.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Wire;

/// How much of each game's stream an instance keeps to resume clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    /// The most updates kept per game (0: none, every reconnect gets a brief).
    pub updates: usize,
    /// How long an update is kept, and how long a game's updates outlive its last
    /// socket here.
    pub age: Duration,
}

impl Keep {
    /// Nothing kept: every reconnect gets a brief.
    pub const NONE: Keep = Keep {
        updates: 0,
        age: Duration::ZERO,
    };

    pub fn enabled(&self) -> bool {
        self.updates > 0 && !self.age.is_zero()
    }
}

/// One game's latest updates, oldest first, their numbers increasing.
#[derive(Debug)]
pub struct Recent {
    keep: Keep,
    entries: VecDeque<(u64, Instant, Wire)>,
}

impl Recent {
    pub fn new(keep: Keep) -> Self {
        Recent {
            keep,
            entries: VecDeque::new(),
        }
    }

    /// Records update `seq`, delivered at `now`. A number not above the newest means
    /// the stream went back (a fenced-off owner's updates were delivered here before
    /// its successor's): what is kept no longer says what came after what, so it is
    /// forgotten.
    pub fn push(&mut self, seq: u64, now: Instant, wire: Wire) {
        if !self.keep.enabled() {
            return;
        }
        if self.newest().is_some_and(|newest| seq <= newest) {
            self.entries.clear();
        }
        if self.entries.len() == self.keep.updates {
            self.entries.pop_front();
        }
        self.entries.push_back((seq, now, wire));
        self.expire(now);
    }

    /// Drops what is older than the age kept.
    pub fn expire(&mut self, now: Instant) {
        while let Some((_, at, _)) = self.entries.front() {
            if now.duration_since(*at) <= self.keep.age {
                break;
            }
            self.entries.pop_front();
        }
    }

    /// The number of the newest update kept.
    pub fn newest(&self) -> Option<u64> {
        self.entries.back().map(|(seq, _, _)| *seq)
    }

    /// Every update after `seq` up to `through`, in order, if update `seq` is kept;
    /// `None` if it is not (then the client needs a brief).
    pub fn after(&self, seq: u64, through: Option<u64>) -> Option<Vec<Wire>> {
        let at = self
            .entries
            .binary_search_by_key(&seq, |(n, _, _)| *n)
            .ok()?;
        let through = through.unwrap_or(u64::MAX);
        Some(
            self.entries
                .iter()
                .skip(at + 1)
                .take_while(|(n, _, _)| *n <= through)
                .map(|(_, _, wire)| wire.clone())
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(updates: usize, secs: u64) -> Keep {
        Keep {
            updates,
            age: Duration::from_secs(secs),
        }
    }

    fn numbers(wires: &[Wire]) -> Vec<u64> {
        wires.iter().map(|w| w.seq().unwrap()).collect()
    }

    fn filled(k: Keep, seqs: impl IntoIterator<Item = u64>, at: Instant) -> Recent {
        let mut recent = Recent::new(k);
        for seq in seqs {
            recent.push(seq, at, Wire::text("{}").numbered(Some(seq)));
        }
        recent
    }

    #[test]
    fn what_came_after_a_kept_update_is_answered_in_order() {
        let recent = filled(keep(10, 60), [5, 6, 7, 9, 12], Instant::now());
        assert_eq!(numbers(&recent.after(6, None).unwrap()), [7, 9, 12]);
        assert_eq!(numbers(&recent.after(5, Some(9)).unwrap()), [6, 7, 9]);
        // the newest: nothing missed
        assert_eq!(recent.after(12, None).unwrap(), []);
    }

    #[test]
    fn a_number_not_kept_gets_no_answer() {
        let recent = filled(keep(10, 60), [5, 6, 7, 9, 12], Instant::now());
        // too old, between two kept, from the future, huge
        for seq in [0, 4, 8, 13, u64::MAX] {
            assert!(recent.after(seq, None).is_none(), "{seq}");
        }
    }

    #[test]
    fn the_count_and_the_age_bound_it() {
        let t = Instant::now();
        let recent = filled(keep(3, 60), 1..=10, t);
        assert_eq!(recent.len(), 3);
        assert!(recent.after(7, None).is_none());
        assert_eq!(numbers(&recent.after(8, None).unwrap()), [9, 10]);

        let mut recent = filled(keep(100, 1), 1..=3, t);
        recent.push(
            4,
            t + Duration::from_secs(2),
            Wire::text("{}").numbered(Some(4)),
        );
        assert!(recent.after(3, None).is_none(), "older than a second: gone");
        assert_eq!(recent.len(), 1);
    }

    #[test]
    fn a_stream_that_goes_back_forgets_what_it_kept() {
        let t = Instant::now();
        let mut recent = filled(keep(10, 60), [10, 11, 12], t);
        recent.push(11, t, Wire::text("{}").numbered(Some(11)));
        assert_eq!(recent.len(), 1);
        assert!(recent.after(10, None).is_none());
    }

    #[test]
    fn nothing_is_kept_when_disabled() {
        let recent = filled(Keep::NONE, 1..=3, Instant::now());
        assert!(recent.is_empty());
    }
}
