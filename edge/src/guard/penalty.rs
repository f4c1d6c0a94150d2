//! Addresses just closed for flooding: their new sockets are refused for a while.
//!
//! Why: the rate limits are per socket, and a fresh socket's buckets start full. A
//! flooder that is closed and comes straight back under a fresh id gets a full burst
//! again each time; ten spammers doing so published about 1,300 moves a second to every
//! player in the hostile benchmark, against the honest bots' 200, and the bots' p99 grew
//! twentyfold. Refusing the address for a while makes the reconnect cost what the
//! flood gained.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::caps::client_key;

/// Refused addresses kept before the expired ones are swept out.
const SWEEP_AT: usize = 1024;

/// The addresses refused now, and until when. Cheap to clone.
#[derive(Clone, Debug)]
pub struct FloodBans {
    /// How long an address is refused after one of its sockets was closed for flooding;
    /// zero turns the rule off.
    hold: Duration,
    /// Until when each address is refused (keyed as the caps key it: IPv4, or an IPv6
    /// /64). A `std` mutex, held for a few instructions and never across an `.await`.
    until: Arc<Mutex<HashMap<IpAddr, Instant>>>,
}

impl FloodBans {
    pub fn new(hold: Duration) -> Self {
        FloodBans {
            hold,
            until: Arc::default(),
        }
    }

    /// A socket of `address` was closed for flooding at `now`: refuse the address until
    /// `now + hold`.
    pub fn ban(&self, address: IpAddr, now: Instant) {
        if self.hold.is_zero() {
            return;
        }
        // unwrap: the lock is never held across a panic point
        let mut until = self.until.lock().unwrap();
        // entries are only added by floods, each of which took a socket and hundreds of
        // bad frames, so sweeping now and then keeps the map small
        if until.len() >= SWEEP_AT {
            until.retain(|_, t| *t > now);
        }
        until.insert(client_key(address), now + self.hold);
    }

    /// How much longer `address` is refused at `now`, if it is.
    pub fn refused(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        if self.hold.is_zero() {
            return None;
        }
        // unwrap: as in `ban`
        let until = self.until.lock().unwrap();
        let left = until
            .get(&client_key(address))?
            .saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_banned_address_is_refused_for_the_hold_and_others_never() {
        let bans = FloodBans::new(Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(bans.refused(ip("10.0.0.1"), t0), None);
        bans.ban(ip("10.0.0.1"), t0);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            bans.refused(ip("10.0.0.1"), later),
            Some(Duration::from_secs(20))
        );
        assert_eq!(bans.refused(ip("10.0.0.2"), later), None);
        assert_eq!(
            bans.refused(ip("10.0.0.1"), t0 + Duration::from_secs(30)),
            None
        );
        // a new flood starts a new hold
        bans.ban(ip("10.0.0.1"), t0 + Duration::from_secs(40));
        assert!(bans
            .refused(ip("10.0.0.1"), t0 + Duration::from_secs(60))
            .is_some());
    }

    #[test]
    fn addresses_are_keyed_as_the_caps_key_them() {
        let bans = FloodBans::new(Duration::from_secs(30));
        let t0 = Instant::now();
        bans.ban(ip("2001:db8:1:2::1"), t0);
        assert!(bans.refused(ip("2001:db8:1:2:ffff::9"), t0).is_some());
        assert!(bans.refused(ip("2001:db8:1:3::1"), t0).is_none());
        bans.ban(ip("::ffff:192.0.2.7"), t0);
        assert!(bans.refused(ip("192.0.2.7"), t0).is_some());
    }

    #[test]
    fn a_zero_hold_refuses_nothing() {
        let bans = FloodBans::new(Duration::ZERO);
        let t0 = Instant::now();
        bans.ban(ip("10.0.0.1"), t0);
        assert_eq!(bans.refused(ip("10.0.0.1"), t0), None);
    }

    #[test]
    fn expired_bans_are_swept_out() {
        let bans = FloodBans::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for n in 0..10 * SWEEP_AT as u32 {
            let at = t0 + Duration::from_secs(u64::from(n) * 2);
            bans.ban(IpAddr::from(n.to_be_bytes()), at);
        }
        // unwrap: test
        assert!(bans.until.lock().unwrap().len() <= SWEEP_AT);
    }
}
