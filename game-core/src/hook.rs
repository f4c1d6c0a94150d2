//! The world-stream hook: the port through which a bus shared by several instances
//! asks whoever composes it what to stamp on the frames this instance publishes, and
//! which of the frames it receives count. In a cluster it is the fence and the census
//! (`cluster::stream`); one instance alone has nothing to stamp and takes every frame
//! ([`Open`]). The core never calls it: the bus adapters do.

use protocol::Uuid;

/// What to publish a message of a game with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// As it is: nobody fences this stream.
    Plain,
    /// With the epoch of this instance's ownership of the game: receivers drop it once
    /// they know of a newer owner.
    Epoch(u64),
    /// Not at all: this instance does not own the game (any more), so what it would
    /// publish must not count.
    Withhold,
}

/// Consulted by a bus for every message it publishes and receives.
pub trait WorldHook: Send + Sync + 'static {
    /// How to publish a message of `game`.
    fn stamp(&self, game: Uuid) -> Stamp;
    /// Whether a received message of `game`, published under `epoch` (if stamped),
    /// counts: `false` drops it before it reaches anyone.
    fn admit(&self, game: Uuid, epoch: Option<u64>) -> bool;
    /// A notice for the instances (a message without a frame) about `game`, admitted:
    /// one property `name` with `value`.
    fn notice(&self, game: Uuid, name: &str, value: &str);
}

/// The hook of an instance that shares no game: stamps nothing, admits everything,
/// expects no notice.
pub struct Open;

impl WorldHook for Open {
    fn stamp(&self, _game: Uuid) -> Stamp {
        Stamp::Plain
    }

    fn admit(&self, _game: Uuid, _epoch: Option<u64>) -> bool {
        true
    }

    fn notice(&self, _game: Uuid, _name: &str, _value: &str) {}
}
