//! A room's lease of its place in whatever lists it (the registry's directory of running
//! games): the room gives it back when idle, and only if nobody was handed the room
//! meanwhile. The room knows nothing of the directory; the directory makes the lease.

/// Gives the place back if the check passes, decided under the lister's lock.
type Release = Box<dyn Fn(&mut dyn FnMut() -> bool) -> bool + Send + Sync>;

/// A room's right to its place; the room gives it back when idle.
pub struct Lease {
    /// How to give the place back; `None` for a room nobody lists.
    release: Option<Release>,
}

impl Lease {
    /// A lease given back by `release`, which runs the room's check under the lister's
    /// lock and says whether the room left.
    pub fn new(release: impl Fn(&mut dyn FnMut() -> bool) -> bool + Send + Sync + 'static) -> Self {
        Lease {
            release: Some(Box::new(release)),
        }
    }

    /// A lease of a room no directory lists (a game hosted for other instances): it may
    /// always let go when idle.
    pub fn unlisted() -> Self {
        Lease { release: None }
    }

    /// Leaves the place if `quiet()` holds, checked under the lister's lock: no new
    /// player can be handed this room once it said yes. Returns whether it left.
    pub fn release_if(&self, quiet: impl FnOnce() -> bool) -> bool {
        let Some(release) = &self.release else {
            return true;
        };
        let mut quiet = Some(quiet);
        release(&mut || quiet.take().is_some_and(|quiet| quiet()))
    }
}
