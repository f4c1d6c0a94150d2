//! How fast one address may read games' history (`--history-read-limit`), and how many
//! history reads this instance serves at once ([`MAX_CONCURRENT_READS`]): a read may
//! cost the store a few MB, so neither one client nor all of them together may ask
//! without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::caps::client_key;
use super::rate::{Rate, TokenBucket};

/// Most history reads served at once by one instance; more are refused (503).
pub const MAX_CONCURRENT_READS: usize = 8;
/// Addresses whose buckets are kept before the full ones are swept.
const SWEEP_AT: usize = 10_000;

/// Why a history read was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadRefusal {
    /// This address asked too fast.
    TooFast,
    /// The instance serves its most reads now.
    Busy,
}

/// The history reads' limits; cheap to clone.
#[derive(Clone, Debug)]
pub struct HistoryReads {
    rate: Rate,
    /// Each address's bucket; a `std` mutex, held for a lookup.
    buckets: Arc<Mutex<HashMap<IpAddr, TokenBucket>>>,
    /// Reads in progress.
    running: Arc<Semaphore>,
}

impl HistoryReads {
    pub fn new(rate: Rate, concurrent: usize) -> Self {
        HistoryReads {
            rate,
            buckets: Arc::default(),
            running: Arc::new(Semaphore::new(concurrent)),
        }
    }

    /// Admits one read of `address` at `now`: the permit is held while it is served.
    pub fn admit(
        &self,
        address: IpAddr,
        now: Instant,
    ) -> Result<OwnedSemaphorePermit, ReadRefusal> {
        {
            // unwrap: the lock is never held across a panic point
            let mut buckets = self.buckets.lock().unwrap();
            if buckets.len() >= SWEEP_AT {
                // so many addresses read at once only in a flood: they all start over
                // (the concurrent cap still holds)
                buckets.clear();
            }
            let bucket = buckets
                .entry(client_key(address))
                .or_insert_with(|| TokenBucket::new(self.rate, now));
            if !bucket.take(now) {
                return Err(ReadRefusal::TooFast);
            }
        }
        self.running
            .clone()
            .try_acquire_owned()
            .map_err(|_| ReadRefusal::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_rate_is_refused_and_others_are_not() {
        let reads = HistoryReads::new("1/3".parse().unwrap(), 100);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let now = Instant::now();
        for _ in 0..3 {
            assert!(reads.admit(a, now).is_ok());
        }
        assert_eq!(reads.admit(a, now).err(), Some(ReadRefusal::TooFast));
        assert!(reads.admit(b, now).is_ok());
        // a second later, one more
        let later = now + std::time::Duration::from_secs(1);
        assert!(reads.admit(a, later).is_ok());
        assert_eq!(reads.admit(a, later).err(), Some(ReadRefusal::TooFast));
    }

    #[test]
    fn reads_beyond_the_concurrent_cap_are_refused_until_one_ends() {
        let reads = HistoryReads::new(Rate::OFF, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        let first = reads.admit(ip, now).unwrap();
        let _second = reads.admit(ip, now).unwrap();
        assert_eq!(reads.admit(ip, now).err(), Some(ReadRefusal::Busy));
        drop(first);
        assert!(reads.admit(ip, now).is_ok());
    }
}
