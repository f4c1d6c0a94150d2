//! Who a host still hears from (pure bookkeeping, no IO): which instances announced
//! their sockets of the game lately, and which players the game had active at the
//! take-over that no socket has claimed since. An instance silent for
//! [`ORIGIN_LOST_AFTER`] has lost its sockets (it died, or lost the broker), and a
//! player nobody claims within it after a take-over leaves: otherwise both would stay on
//! the board for good.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use protocol::Uuid;

/// An instance whose presence has not been heard for this long has lost its sockets;
/// so has a player active at a take-over that no instance claims within it.
pub const ORIGIN_LOST_AFTER: Duration = Duration::from_secs(3);

/// A host's view of who is still there.
#[derive(Debug)]
pub struct Presence {
    /// When each instance was last heard from (any command of the game).
    heard: HashMap<String, Instant>,
    /// Players active at the take-over and not yet claimed by a socket.
    orphans: HashSet<Uuid>,
    /// When the unclaimed ones leave.
    orphan_deadline: Instant,
}

impl Presence {
    /// Taken over at `now` with `active` players in the game.
    pub fn new(active: impl IntoIterator<Item = Uuid>, now: Instant) -> Self {
        Presence {
            heard: HashMap::new(),
            orphans: active.into_iter().collect(),
            orphan_deadline: now + ORIGIN_LOST_AFTER,
        }
    }

    /// `origin` was heard from at `now`.
    pub fn heard(&mut self, origin: &str, now: Instant) {
        self.heard.insert(origin.to_string(), now);
    }

    /// A socket claimed `player`: it no longer leaves at the deadline.
    pub fn claimed(&mut self, player: Uuid) {
        self.orphans.remove(&player);
    }

    /// The instances silent since [`ORIGIN_LOST_AFTER`] before `now`, forgotten: their
    /// sockets are to be dropped (heard again, an instance counts anew).
    pub fn silent(&mut self, now: Instant) -> Vec<String> {
        let silent: Vec<String> = self
            .heard
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= ORIGIN_LOST_AFTER)
            .map(|(origin, _)| origin.clone())
            .collect();
        for origin in &silent {
            self.heard.remove(origin);
        }
        silent
    }

    /// The players nobody claimed by the deadline, once it passed at `now`: they are to
    /// leave, and are handed out once.
    pub fn unclaimed(&mut self, now: Instant) -> Vec<Uuid> {
        if now < self.orphan_deadline {
            return Vec::new();
        }
        std::mem::take(&mut self.orphans).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "instance-a";
    const B: &str = "instance-b";

    #[test]
    fn an_instance_silent_for_the_time_limit_loses_its_sockets_once() {
        let start = Instant::now();
        let mut presence = Presence::new([], start);
        presence.heard(A, start);
        presence.heard(B, start);
        let later = start + Duration::from_secs(2);
        presence.heard(B, later);
        assert!(
            presence.silent(later).is_empty(),
            "nobody silent long enough yet"
        );
        let lost = start + ORIGIN_LOST_AFTER;
        assert_eq!(
            presence.silent(lost),
            vec![A.to_string()],
            "A went quiet, B spoke"
        );
        assert!(presence.silent(lost).is_empty(), "A is dropped once");
        presence.heard(A, lost);
        assert!(
            presence.silent(lost + Duration::from_secs(1)).is_empty(),
            "back, A counts anew"
        );
        assert_eq!(
            presence.silent(later + ORIGIN_LOST_AFTER),
            vec![B.to_string()]
        );
    }

    #[test]
    fn players_active_at_the_take_over_leave_unless_a_socket_claims_them_in_time() {
        let start = Instant::now();
        let (ana, bob, eve) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut presence = Presence::new([ana, bob, eve], start);
        presence.claimed(bob);
        assert!(
            presence
                .unclaimed(start + Duration::from_secs(2))
                .is_empty(),
            "before the deadline nobody leaves"
        );
        let mut gone = presence.unclaimed(start + ORIGIN_LOST_AFTER);
        gone.sort();
        assert_eq!(gone, vec![ana, eve], "Bob was claimed");
        presence.claimed(ana);
        assert!(
            presence.unclaimed(start + ORIGIN_LOST_AFTER * 2).is_empty(),
            "the unclaimed leave once"
        );
    }
}
