//! The running games of this instance: the one map that says which games run here, and
//! a room's lease of its place in it.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, Weak};

use protocol::Uuid;

use crate::room::RoomHandle;

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

/// A room's right to its place in the directory; the room gives it back when idle.
pub struct Lease {
    /// The room's game.
    game: Uuid,
    /// The directory (weak: a room never keeps the registry alive).
    directory: Weak<Directory>,
}

impl Lease {
    /// A lease of `game`'s place in `directory`.
    pub fn new(game: Uuid, directory: &Arc<Directory>) -> Lease {
        Lease {
            game,
            directory: Arc::downgrade(directory),
        }
    }

    /// A lease of a room no directory lists (a game hosted for other instances): it may
    /// always let go when idle.
    pub fn unlisted(game: Uuid) -> Lease {
        Lease {
            game,
            directory: Weak::new(),
        }
    }

    /// Leaves the directory if `quiet()` holds, checked under the directory's lock: no
    /// new player can be handed this room once it said yes. Returns whether it left.
    pub fn release_if(&self, quiet: impl FnOnce() -> bool) -> bool {
        let Some(directory) = self.directory.upgrade() else {
            return true;
        };
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut directory = directory.lock().unwrap();
        if !quiet() {
            return false;
        }
        directory.remove(&self.game);
        true
    }
}
