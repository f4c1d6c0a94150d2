//! Caps on open sockets: in all, and per client address, so that one client cannot take
//! every connection (and the memory behind them) for itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// Sockets open now, in all and per address.
#[derive(Debug, Default)]
struct Counts {
    /// All sockets.
    total: usize,
    /// Sockets per client address; an address leaves the map with its last socket.
    by_address: HashMap<IpAddr, usize>,
    /// Sockets closed since the start.
    closed: u64,
}

/// The caps, and the counts they are checked against. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SocketCaps {
    /// Most sockets in all.
    max_total: usize,
    /// Most sockets of one address.
    max_per_address: usize,
    /// The counts; a `std` mutex, held for a few instructions and never across an
    /// `.await`.
    counts: Arc<Mutex<Counts>>,
}

/// Why a socket was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    #[error("the server has {0} sockets open, the most it takes; try again later")]
    Total(usize),
    #[error("{0} sockets are open from your address, the most it may have")]
    Address(usize),
}

/// One open socket's place in the counts, given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    /// The counts it is part of.
    counts: Arc<Mutex<Counts>>,
    /// The address it was counted under.
    address: IpAddr,
}

impl SocketCaps {
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        SocketCaps {
            max_total,
            max_per_address,
            counts: Arc::default(),
        }
    }

    /// Counts one more socket of `address`, or says which cap it would break.
    pub fn acquire(&self, address: IpAddr) -> Result<SocketSlot, CapError> {
        let address = client_key(address);
        // unwrap: the lock is never held across a panic point
        let mut counts = self.counts.lock().unwrap();
        if counts.total >= self.max_total {
            return Err(CapError::Total(self.max_total));
        }
        let mine = counts.by_address.entry(address).or_default();
        if *mine >= self.max_per_address {
            return Err(CapError::Address(self.max_per_address));
        }
        *mine += 1;
        counts.total += 1;
        Ok(SocketSlot {
            counts: self.counts.clone(),
            address,
        })
    }

    /// Sockets open now, in all and from `address`.
    pub fn open(&self, address: IpAddr) -> (usize, usize) {
        // unwrap: as in `acquire`
        let counts = self.counts.lock().unwrap();
        let mine = counts.by_address.get(&client_key(address)).copied();
        (counts.total, mine.unwrap_or(0))
    }

    /// Sockets closed since the start.
    pub fn closed(&self) -> u64 {
        // unwrap: as in `acquire`
        self.counts.lock().unwrap().closed
    }
}

impl SocketSlot {
    /// The client address the socket is counted under.
    pub fn address(&self) -> IpAddr {
        self.address
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        // unwrap: as in `acquire`
        let mut counts = self.counts.lock().unwrap();
        counts.total -= 1;
        counts.closed += 1;
        if let Some(mine) = counts.by_address.get_mut(&self.address) {
            *mine -= 1;
            if *mine == 0 {
                counts.by_address.remove(&self.address);
            }
        }
    }
}

/// The key a client is counted under: its IPv4 address, or the /64 network of its IPv6
/// address (one IPv6 host commonly holds a whole /64).
pub(super) fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn caps_hold_per_address_and_in_all_and_slots_come_back() {
        let caps = SocketCaps::new(3, 2);
        let a1 = caps.acquire(ip("10.0.0.1")).unwrap();
        let _a2 = caps.acquire(ip("10.0.0.1")).unwrap();
        assert_eq!(
            caps.acquire(ip("10.0.0.1")).unwrap_err(),
            CapError::Address(2)
        );
        let _b = caps.acquire(ip("10.0.0.2")).unwrap();
        assert_eq!(
            caps.acquire(ip("10.0.0.3")).unwrap_err(),
            CapError::Total(3)
        );
        assert_eq!(caps.closed(), 0);
        drop(a1);
        assert_eq!(caps.open(ip("10.0.0.1")), (2, 1));
        assert_eq!(caps.closed(), 1);
        let _c = caps.acquire(ip("10.0.0.3")).unwrap();
        assert_eq!(caps.open(ip("10.0.0.3")), (3, 1));
    }

    #[test]
    fn ipv6_clients_count_per_64_network_and_mapped_ipv4_as_ipv4() {
        let caps = SocketCaps::new(100, 1);
        let _a = caps.acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(caps.acquire(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(caps.acquire(ip("2001:db8:1:3::1")).is_ok());
        let _v4 = caps.acquire(ip("192.0.2.7")).unwrap();
        assert!(caps.acquire(ip("::ffff:192.0.2.7")).is_err());
    }

    #[test]
    fn addresses_leave_the_counts_with_their_last_socket() {
        let caps = SocketCaps::new(100_000, 1);
        for n in 0..10_000u32 {
            drop(caps.acquire(IpAddr::from(n.to_be_bytes())).unwrap());
        }
        // unwrap: test
        assert!(caps.counts.lock().unwrap().by_address.is_empty());
        assert_eq!(caps.open(ip("0.0.0.1")), (0, 0));
    }
}
