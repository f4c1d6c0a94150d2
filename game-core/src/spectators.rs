//! Spectators: who watches which game on this instance, under two caps
//! (`--max-spectators-per-game`, `--max-spectators`).
//!
//! A spectator (docs/protocol.md, "Spectators") reads a game's batched world stream
//! and is briefed once; it is no player, so the room never hears of it after its
//! brief. What it holds is a [`Seat`], taken before its socket opens and given back
//! when the seat drops, so the counts are this instance's watching sockets exactly.
//! The lobby shows each game's count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use protocol::Uuid;

/// The caps, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct SpectatorLimits {
    /// Most spectators of one game on this instance.
    pub per_game: usize,
    /// Most spectators on this instance, all games together.
    pub total: usize,
}

/// Why a spectator was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpectatorRefused {
    #[error("this game has the most spectators it may ({0}) on this server; try again later")]
    GameFull(usize),
    #[error("this server has the most spectators it may ({0}); try again later")]
    ServerFull(usize),
}

#[derive(Default)]
struct Counts {
    /// Spectators by game (a game with none has no entry).
    by_game: HashMap<Uuid, usize>,
    /// All of them.
    total: usize,
}

/// This instance's spectators. Cheap to clone (shared counts).
#[derive(Clone)]
pub struct Spectators {
    limits: SpectatorLimits,
    /// A `std` mutex: held for a map operation, never across an `.await`.
    counts: Arc<Mutex<Counts>>,
}

/// A spectator's place under the caps; given back when dropped.
pub struct Seat {
    game: Uuid,
    counts: Arc<Mutex<Counts>>,
}

impl Spectators {
    pub fn new(limits: SpectatorLimits) -> Self {
        Spectators {
            limits,
            counts: Arc::default(),
        }
    }

    /// A seat to watch `game`, if both caps leave room.
    pub fn seat(&self, game: Uuid) -> Result<Seat, SpectatorRefused> {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut counts = self.counts.lock().unwrap();
        if counts.total >= self.limits.total {
            return Err(SpectatorRefused::ServerFull(self.limits.total));
        }
        let of_game = counts.by_game.entry(game).or_default();
        if *of_game >= self.limits.per_game {
            return Err(SpectatorRefused::GameFull(self.limits.per_game));
        }
        *of_game += 1;
        counts.total += 1;
        Ok(Seat {
            game,
            counts: Arc::clone(&self.counts),
        })
    }

    /// Spectators of `game` here now.
    pub fn of_game(&self, game: Uuid) -> usize {
        // unwrap: as in `seat`
        let counts = self.counts.lock().unwrap();
        counts.by_game.get(&game).copied().unwrap_or(0)
    }

    /// Spectators here now, all games together.
    pub fn total(&self) -> usize {
        // unwrap: as in `seat`
        self.counts.lock().unwrap().total
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        // unwrap: as in `Spectators::seat`
        let mut counts = self.counts.lock().unwrap();
        counts.total -= 1;
        if let Some(n) = counts.by_game.get_mut(&self.game) {
            *n -= 1;
            if *n == 0 {
                counts.by_game.remove(&self.game);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spectators(per_game: usize, total: usize) -> Spectators {
        Spectators::new(SpectatorLimits { per_game, total })
    }

    #[test]
    fn a_game_takes_spectators_up_to_its_cap_and_one_more_when_one_leaves() {
        let s = spectators(2, 10);
        let game = Uuid::from_u128(1);
        let first = s.seat(game).unwrap();
        let _second = s.seat(game).unwrap();
        assert_eq!(s.seat(game).err(), Some(SpectatorRefused::GameFull(2)));
        assert_eq!(s.of_game(game), 2);
        // another game is not full
        assert!(s.seat(Uuid::from_u128(2)).is_ok());
        drop(first);
        assert_eq!(s.of_game(game), 1);
        assert!(s.seat(game).is_ok());
    }

    #[test]
    fn the_instance_cap_counts_every_game() {
        let s = spectators(10, 3);
        let seats: Vec<Seat> = (0..3)
            .map(|n| s.seat(Uuid::from_u128(n)).unwrap())
            .collect();
        assert_eq!(s.total(), 3);
        assert_eq!(
            s.seat(Uuid::from_u128(9)).err(),
            Some(SpectatorRefused::ServerFull(3))
        );
        drop(seats);
        assert_eq!(s.total(), 0);
        assert_eq!(s.of_game(Uuid::from_u128(0)), 0);
        // nothing is kept of a game nobody watches
        assert!(s.counts.lock().unwrap().by_game.is_empty());
    }

    #[test]
    fn a_refused_seat_counts_nothing() {
        let s = spectators(1, 5);
        let game = Uuid::from_u128(1);
        let _seat = s.seat(game).unwrap();
        for _ in 0..3 {
            assert!(s.seat(game).is_err());
        }
        assert_eq!((s.of_game(game), s.total()), (1, 1));
    }
}
