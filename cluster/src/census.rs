//! How many players each game has, cluster-wide: what the lobby lists on every
//! instance. Only a game's owner knows its players; it publishes a census message on
//! the world topic every [`CENSUS_EVERY`] (and a last one, 0, when it lets the game
//! go), stamped with its epoch like its frames, so a fenced-off owner's census is
//! dropped with them. Every instance reads the world topic anyway and keeps the latest
//! count per game here. Pure bookkeeping over instants, so it is tested without a
//! broker.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use protocol::Uuid;

/// How often an owner publishes the census of each game it hosts.
pub const CENSUS_EVERY: Duration = Duration::from_secs(1);

/// A count not renewed for this long is void: its owner died, and no instance took
/// the game over since (nobody plays it).
pub const CENSUS_LOST_AFTER: Duration = Duration::from_secs(4);

/// The latest count of every game heard of, on one instance.
#[derive(Default)]
pub struct Census {
    /// Game to (its players, when heard). A `std` mutex: held for a map operation,
    /// never across an `.await`.
    counts: Mutex<HashMap<Uuid, (usize, Instant)>>,
}

impl Census {
    /// The owner of `game` says it has `players` at `now`.
    pub fn record(&self, game: Uuid, players: usize, now: Instant) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut counts = self.counts.lock().unwrap();
        // forget what went void, so the map stays as small as the games being played
        counts.retain(|_, (_, at)| now.saturating_duration_since(*at) < CENSUS_LOST_AFTER);
        if players == 0 {
            counts.remove(&game);
        } else {
            counts.insert(game, (players, now));
        }
    }

    /// The players of `game` at `now` (0 when no owner spoke of it lately).
    pub fn players(&self, game: Uuid, now: Instant) -> usize {
        // unwrap: as in `record`
        let counts = self.counts.lock().unwrap();
        counts
            .get(&game)
            .filter(|(_, at)| now.saturating_duration_since(*at) < CENSUS_LOST_AFTER)
            .map_or(0, |(players, _)| *players)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_holds_until_renewed_replaced_or_void() {
        let census = Census::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let start = Instant::now();
        assert_eq!(census.players(a, start), 0, "never heard of");
        census.record(a, 3, start);
        census.record(b, 1, start);
        assert_eq!(census.players(a, start + CENSUS_EVERY), 3);
        census.record(a, 2, start + CENSUS_EVERY);
        assert_eq!(census.players(a, start + CENSUS_EVERY), 2, "replaced");
        let later = start + CENSUS_LOST_AFTER;
        assert_eq!(census.players(b, later), 0, "its owner fell silent");
        assert_eq!(census.players(a, later), 2, "renewed meanwhile");
        census.record(a, 0, later);
        assert_eq!(census.players(a, later), 0, "let go");
    }
}
