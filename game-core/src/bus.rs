//! The world bus: every world update goes through it, and comes back out of it into
//! this instance's [`Fanout`], which hands it to every local world socket.
//!
//! [`Bus`] is the port; [`inprocess`] is the default (one instance, nothing to
//! install), and the `bus-pulsar` crate runs the updates through an Apache Pulsar topic
//! so that many instances see the same stream.
//! Frames are serialized once, by the room, and shared as [`Frame`] (a reference-counted
//! string) by every socket that sends them.

pub mod batch;
pub mod inprocess;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use protocol::{server::StatusPayload, ServerMessage, Uuid};
use tokio::sync::broadcast;

pub use wire::Wire;

/// One serialized frame, cheap to clone: all sockets share its bytes.
pub type Frame = bytestring::ByteString;

/// Serializes `message` once into a shareable frame.
pub fn frame(message: &ServerMessage) -> Frame {
    Frame::from(message.to_json())
}

/// Where world updates go.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Hands one world frame of `game` to the bus, in order. Never waits: an
    /// implementation that talks to a network queues the frame and delivers it from a
    /// task of its own, so a slow or absent broker never stalls a game.
    fn publish(&self, game: Uuid, frame: Frame);
    /// Hands a frame caused by the command `cause` (a command that came with an id) to
    /// the bus: a bus shared by several instances records the cause with it, so that
    /// whoever replays the stream knows the command was applied; any other bus
    /// publishes it.
    fn publish_caused(&self, game: Uuid, frame: Frame, _cause: Uuid) {
        self.publish(game, frame);
    }
    /// Waits (within a bounded time) until every frame handed over so far is on the
    /// bus, where other instances read it: an instance handing its games over calls it
    /// before the next owner may read the topic's tail. A bus with nobody else reading
    /// has nothing to wait for.
    async fn flush(&self) {}
    /// Delivers what is queued (within a bounded time) and releases the bus's resources.
    async fn close(&self);
}

/// This instance's local fan-out of world frames to its world sockets, per game.
///
/// One tokio broadcast channel per game that has world sockets here: one ring buffer
/// shared by every receiver of the game, so a frame is stored once however many sockets
/// read it, and encoded once ([`Wire`]) for all of them. A receiver that falls more than
/// the capacity behind gets `Lagged`, and its socket is closed: a slow reader is dropped
/// rather than allowed to hold frames for everyone. A game's channel goes away with its
/// last socket.
///
/// Sockets of the batched stream (`docs/protocol.md`) read a second ring per game, fed
/// by the game's [`batch`] task: each batch is built once and shared by all of them.
#[derive(Clone)]
pub struct Fanout {
    /// Each game's rings; world sockets subscribe to them. A `std` mutex: held for a
    /// map lookup, never across an `.await`.
    games: Arc<Mutex<HashMap<Uuid, Rings>>>,
    /// How far each socket may fall behind.
    capacity: usize,
    /// The shortest time between two batches of one game.
    batch_interval: Duration,
    /// Whether the bus delivers now; a change is announced to every world socket.
    bus_ok: Arc<AtomicBool>,
}

/// One game's broadcast rings.
struct Rings {
    /// Every frame, one message each: the reference stream.
    frames: broadcast::Sender<Wire>,
    /// The batched stream, while the game's batch task runs.
    batches: Option<broadcast::Sender<Wire>>,
}

impl Fanout {
    /// A fan-out in which each socket may fall `capacity` frames (or batches) behind,
    /// and a game's batches go out at most every `batch_interval`.
    pub fn new(capacity: usize, batch_interval: Duration) -> Self {
        Fanout {
            games: Arc::default(),
            capacity: capacity.max(1),
            batch_interval,
            bus_ok: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Hands `frame` to every local world socket of `game`.
    pub fn deliver(&self, game: Uuid, frame: Frame) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut games = self.games.lock().unwrap();
        if let Some(rings) = games.get(&game) {
            if rings.frames.send(Wire::text(&frame)).is_err() {
                // its last socket is gone: forget the channel
                games.remove(&game);
            }
        }
    }

    /// Hands `frame` to every local world socket of every game.
    pub fn deliver_all(&self, frame: Frame) {
        let wire = Wire::text(&frame);
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        games.retain(|_, rings| rings.frames.send(wire.clone()).is_ok());
    }

    /// A receiver of `game`'s frames, one message each, from now on.
    pub fn subscribe(&self, game: Uuid) -> broadcast::Receiver<Wire> {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        self.rings(&mut games, game).frames.subscribe()
    }

    /// A receiver of `game`'s batches: every frame published from now on, in order,
    /// several to a message. Starts the game's batch task if none runs.
    pub fn subscribe_batched(&self, game: Uuid) -> broadcast::Receiver<Wire> {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        let capacity = self.capacity;
        let rings = self.rings(&mut games, game);
        if let Some(batches) = &rings.batches {
            return batches.subscribe();
        }
        let batches = broadcast::channel(capacity).0;
        let receiver = batches.subscribe();
        // the task reads the game's frames from now on: nothing published after this
        // subscription is missed
        tokio::spawn(batch::run(batch::Batcher {
            game,
            frames: rings.frames.subscribe(),
            batches: batches.clone(),
            fanout: self.clone(),
            interval: self.batch_interval,
        }));
        rings.batches = Some(batches);
        receiver
    }

    /// Ends `game`'s batched stream if `batches` is still it and nobody reads it (or,
    /// with `force`, whoever reads it); `true` when it ended. Decided under the lock, so
    /// a socket subscribing at the same time either gets this stream before it ends (and
    /// counts as a reader) or starts a new one.
    fn end_batches(&self, game: Uuid, batches: &broadcast::Sender<Wire>, force: bool) -> bool {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        let Some(rings) = games.get_mut(&game) else {
            return true;
        };
        match &rings.batches {
            Some(current) if current.same_channel(batches) => {
                if force || current.receiver_count() == 0 {
                    rings.batches = None;
                    true
                } else {
                    false
                }
            }
            // a newer stream replaced this one
            _ => true,
        }
    }

    /// `game`'s rings, made if it has none.
    fn rings<'a>(&self, games: &'a mut HashMap<Uuid, Rings>, game: Uuid) -> &'a mut Rings {
        games.entry(game).or_insert_with(|| Rings {
            frames: broadcast::channel(self.capacity).0,
            batches: None,
        })
    }

    /// Records whether the bus delivers now, and tells every world socket when that
    /// changes, so clients can show that updates are delayed.
    pub fn set_bus_ok(&self, ok: bool) {
        if self.bus_ok.swap(ok, Ordering::Relaxed) != ok {
            self.deliver_all(frame(&ServerMessage::Status {
                payload: StatusPayload { bus_ok: ok },
            }));
        }
    }

    pub fn bus_ok(&self) -> bool {
        self.bus_ok.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_game_s_frames_reach_only_its_own_sockets() {
        let fanout = Fanout::new(8, Duration::ZERO);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut on_a = fanout.subscribe(a);
        let mut on_b = fanout.subscribe(b);
        fanout.deliver(a, Frame::from("for a"));
        fanout.deliver_all(Frame::from("for all"));
        assert_eq!(on_a.try_recv().unwrap(), Wire::text("for a"));
        assert_eq!(on_a.try_recv().unwrap(), Wire::text("for all"));
        assert_eq!(on_b.try_recv().unwrap(), Wire::text("for all"));
        assert!(on_b.try_recv().is_err());
    }

    #[test]
    fn a_game_without_sockets_keeps_no_channel() {
        let fanout = Fanout::new(8, Duration::ZERO);
        let game = Uuid::from_u128(1);
        drop(fanout.subscribe(game));
        fanout.deliver(game, Frame::from("nobody listens"));
        assert!(fanout.games.lock().unwrap().is_empty());
        // a socket that comes later gets a fresh channel
        let mut later = fanout.subscribe(game);
        fanout.deliver(game, Frame::from("now"));
        assert_eq!(later.try_recv().unwrap(), Wire::text("now"));
    }
}
