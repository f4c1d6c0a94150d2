//! The running games of this instance: the one map that says which games run here, and
//! the leases through which their rooms leave it.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use protocol::Uuid;

use crate::room::{Lease, RoomHandle};

/// A running game.
#[derive(Clone)]
pub struct Loaded {
    /// Its room (or a stand-in for its room elsewhere): where its player sockets send
    /// their commands.
    pub handle: RoomHandle,
    /// Its active players, kept by the room.
    pub players: Arc<AtomicUsize>,
}

/// The running games by id. A `std` mutex: held for map operations only, never across
/// an `.await`.
pub type Directory = Mutex<HashMap<Uuid, Loaded>>;

/// The lease of `game`'s place in `directory`: the room leaves it under the
/// directory's lock (weakly held: a room never keeps the registry alive).
pub fn lease(game: Uuid, directory: &Arc<Directory>) -> Lease {
    let directory = Arc::downgrade(directory);
    Lease::new(move |quiet| {
        let Some(directory) = directory.upgrade() else {
            return true;
        };
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut directory = directory.lock().unwrap();
        if !quiet() {
            return false;
        }
        directory.remove(&game);
        true
    })
}
