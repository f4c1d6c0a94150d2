//! Which command partitions this instance owns, learnt from traffic.
//!
//! pulsar-rs does not pass the broker's "you are now the active consumer" events on,
//! so each instance pings every partition (see [`super::link`]); in a Failover
//! subscription only the active consumer of a partition receives anything from it.
//! Receiving a message on partition p means "I own p"; hearing nothing on p for
//! [`LOST_AFTER`] while pings flow means "I lost p". Pure bookkeeping over instants,
//! so it is tested without a broker.

use std::time::{Duration, Instant};

/// How often each instance pings each partition.
pub const PING_EVERY: Duration = Duration::from_millis(500);

/// Silence on a partition after which it no longer counts as ours: several pings'
/// worth, so a short pause of the broker does not unload games.
pub const LOST_AFTER: Duration = Duration::from_millis(2500);

/// When each partition last delivered a message here.
#[derive(Debug)]
pub struct Ownership {
    /// Last delivery per partition; `None` if never.
    heard: Vec<Option<Instant>>,
}

impl Ownership {
    pub fn new(partitions: u32) -> Self {
        Ownership {
            heard: vec![None; partitions as usize],
        }
    }

    /// A message arrived on `partition` at `now`. Returns true when that makes the
    /// partition ours again (it was not).
    pub fn heard(&mut self, partition: u32, now: Instant) -> bool {
        let Some(slot) = self.heard.get_mut(partition as usize) else {
            return false;
        };
        let was = slot.is_some_and(|t| now.saturating_duration_since(t) < LOST_AFTER);
        *slot = Some(now);
        !was
    }

    /// Whether `partition` is ours at `now`.
    pub fn owns(&self, partition: u32, now: Instant) -> bool {
        self.heard
            .get(partition as usize)
            .copied()
            .flatten()
            .is_some_and(|t| now.saturating_duration_since(t) < LOST_AFTER)
    }

    /// Partitions that went silent since the last call, forgotten so that each is
    /// reported once.
    pub fn lost(&mut self, now: Instant) -> Vec<u32> {
        let mut lost = Vec::new();
        for (index, slot) in self.heard.iter_mut().enumerate() {
            if slot.is_some_and(|t| now.saturating_duration_since(t) >= LOST_AFTER) {
                *slot = None;
                lost.push(index as u32);
            }
        }
        lost
    }

    /// The partitions owned at `now`.
    pub fn owned(&self, now: Instant) -> Vec<u32> {
        (0..self.heard.len() as u32)
            .filter(|p| self.owns(*p, now))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_owned_while_it_delivers_and_lost_after_silence() {
        let start = Instant::now();
        let mut ownership = Ownership::new(4);
        assert!(!ownership.owns(1, start));
        assert!(ownership.heard(1, start));
        assert!(!ownership.heard(1, start + PING_EVERY));
        assert!(ownership.owns(1, start + PING_EVERY));
        assert_eq!(ownership.owned(start + PING_EVERY), vec![1]);
        assert!(ownership.lost(start + PING_EVERY).is_empty());
        let later = start + PING_EVERY + LOST_AFTER;
        assert!(!ownership.owns(1, later));
        assert_eq!(ownership.lost(later), vec![1]);
        assert!(ownership.lost(later).is_empty(), "reported once");
        assert!(ownership.heard(1, later), "owned again");
        assert!(!ownership.heard(9, later), "no such partition");
    }
}
