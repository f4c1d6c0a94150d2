//! The cluster's side of the world stream: the core's world-stream hook, which the
//! Pulsar bus consults for every message. It stamps this instance's frames with its
//! epoch of their game (or withholds them when it does not own the game), drops the
//! frames of fenced-off owners ([`super::fencing`]), and takes the owners' census
//! ([`super::census`]) for the lobby.

use std::sync::Arc;
use std::time::Instant;

use bus_pulsar::contract::CENSUS;
use game_core::hook::{Stamp, WorldHook};
use protocol::Uuid;

use super::census::Census;
use super::fencing::{Fence, Verdict};

/// The fence and the census, as the world bus sees them.
pub struct Stream {
    /// Stamps this instance's frames with its epochs, drops fenced-off owners' frames.
    pub fence: Arc<Fence>,
    /// Every game's players, from the owners' census, for the lobby.
    pub census: Arc<Census>,
}

impl WorldHook for Stream {
    fn stamp(&self, game: Uuid) -> Stamp {
        match self.fence.stamp(game) {
            Some(epoch) => Stamp::Epoch(epoch),
            None => Stamp::Withhold,
        }
    }

    fn admit(&self, game: Uuid, epoch: Option<u64>) -> bool {
        match epoch {
            Some(epoch) => self.fence.observe(game, epoch) != Verdict::Stale,
            None => true,
        }
    }

    fn notice(&self, game: Uuid, name: &str, value: &str) {
        if name == CENSUS {
            if let Ok(players) = value.parse() {
                self.census.record(game, players, Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_a_game_not_owned_are_withheld_and_a_stale_owner_s_dropped() {
        let (fence, _fenced) = Fence::new();
        let stream = Stream {
            fence: fence.clone(),
            census: Arc::default(),
        };
        let game = Uuid::from_u128(1);
        assert_eq!(stream.stamp(game), Stamp::Withhold, "not owned here");
        fence.own(game, 3);
        assert_eq!(stream.stamp(game), Stamp::Epoch(3));
        assert!(stream.admit(game, Some(3)));
        assert!(stream.admit(game, Some(4)), "a newer owner counts");
        assert!(
            !stream.admit(game, Some(3)),
            "the older owner's frames no longer do"
        );
        assert!(stream.admit(game, None), "unstamped frames are not fenced");
    }

    #[test]
    fn a_census_notice_is_counted_for_the_lobby() {
        let (fence, _fenced) = Fence::new();
        let stream = Stream {
            fence,
            census: Arc::default(),
        };
        let game = Uuid::from_u128(2);
        stream.notice(game, CENSUS, "7");
        stream.notice(game, "something-else", "9");
        assert_eq!(stream.census.players(game, Instant::now()), 7);
    }
}
