//! The per-address cap on game creations: games one client address may create per
//! minute, so that records (which the store keeps) cannot be made without end.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Recent creations per client address.
pub struct Creations {
    /// Most creations per address per minute.
    per_minute: usize,
    /// When each address created its recent games. A `std` mutex: never held across
    /// an `.await`.
    recent: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl Creations {
    pub fn new(per_minute: usize) -> Self {
        Creations {
            per_minute,
            recent: Mutex::default(),
        }
    }

    /// Counts a creation from `from`, unless it already made its per-minute share.
    pub fn may_create(&self, from: IpAddr) -> bool {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut recent = self.recent.lock().unwrap();
        // forget addresses with nothing recent, so the map stays as small as the minute
        recent.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < minute);
            !times.is_empty()
        });
        let times = recent.entry(from).or_default();
        if times.len() >= self.per_minute {
            return false;
        }
        times.push(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_and_no_more_while_others_get_theirs() {
        let creations = Creations::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(creations.may_create(a));
        assert!(creations.may_create(a));
        assert!(
            !creations.may_create(a),
            "a third within the minute is refused"
        );
        assert!(creations.may_create(b), "another address is counted apart");
    }
}
