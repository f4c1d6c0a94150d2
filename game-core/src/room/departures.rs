//! Which players of a game have left, and when each is to be forgotten.
//!
//! A player who left keeps its place (position, score) for a while so that it can come
//! back; after `--prune-players-after-secs` the room forgets it, in memory and in the
//! store. The room also forgets the longest gone early when a newcomer needs room (the
//! per-game cap counts every player held). Pure bookkeeping: the caller passes the clock.

use std::collections::{BTreeSet, HashMap};

use protocol::Uuid;

/// Players gone from one game, with the time (milliseconds since the Unix epoch) at
/// which each is forgotten.
#[derive(Debug, Default)]
pub struct Departures {
    /// Expiry by player.
    by_player: HashMap<Uuid, i64>,
    /// The same pairs, soonest first: who is due, and who has been gone longest, without
    /// a scan.
    by_time: BTreeSet<(i64, Uuid)>,
}

impl Departures {
    /// Records that `player` left and is forgotten at `expires_ms`.
    pub fn left(&mut self, player: Uuid, expires_ms: i64) {
        self.returned(player);
        self.by_player.insert(player, expires_ms);
        self.by_time.insert((expires_ms, player));
    }

    /// Forgets the departure of `player` (it came back, or it is forgotten itself).
    pub fn returned(&mut self, player: Uuid) {
        if let Some(at) = self.by_player.remove(&player) {
            self.by_time.remove(&(at, player));
        }
    }

    /// When `player` is forgotten, if it is gone.
    pub fn expiry(&self, player: Uuid) -> Option<i64> {
        self.by_player.get(&player).copied()
    }

    /// Takes out and returns every player due by `now_ms`.
    pub fn due(&mut self, now_ms: i64) -> Vec<Uuid> {
        let mut due = Vec::new();
        while let Some(&(at, player)) = self.by_time.first() {
            if at > now_ms {
                break;
            }
            self.by_time.pop_first();
            self.by_player.remove(&player);
            due.push(player);
        }
        due
    }

    /// Takes out and returns the player to be forgotten first (gone longest).
    pub fn soonest(&mut self) -> Option<Uuid> {
        let (_, player) = self.by_time.pop_first()?;
        self.by_player.remove(&player);
        Some(player)
    }

    /// How many players are gone and not yet forgotten.
    pub fn len(&self) -> usize {
        self.by_player.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_player.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn players_are_due_in_order_of_expiry_and_a_return_cancels_it() {
        let mut d = Departures::default();
        d.left(id(1), 300);
        d.left(id(2), 100);
        d.left(id(3), 200);
        d.returned(id(3));
        assert_eq!(d.expiry(id(3)), None);
        assert_eq!(d.due(99), Vec::<Uuid>::new());
        assert_eq!(d.due(300), vec![id(2), id(1)]);
        assert!(d.is_empty());
    }

    #[test]
    fn leaving_again_moves_the_expiry_and_the_longest_gone_goes_first() {
        let mut d = Departures::default();
        d.left(id(1), 100);
        d.left(id(2), 200);
        d.left(id(1), 500);
        assert_eq!(d.len(), 2);
        assert_eq!(d.expiry(id(1)), Some(500));
        assert_eq!(d.soonest(), Some(id(2)));
        assert_eq!(d.due(400), Vec::<Uuid>::new(), "id 1's old expiry is gone");
        assert_eq!(d.soonest(), Some(id(1)));
        assert_eq!(d.soonest(), None);
    }
}
