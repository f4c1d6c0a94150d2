//! The world bus: every world update goes through it, and comes back out of it into
//! this instance's [`Fanout`], which hands it to every local world socket.
//!
//! [`inprocess`] is the default (one instance, nothing to install); [`pulsar`] runs the
//! updates through an Apache Pulsar topic so that many instances see the same stream.
//! Frames are serialized once, by the room, and shared as [`Frame`] (a reference-counted
//! string) by every socket that sends them.

pub mod inprocess;
pub mod pulsar;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use protocol::{server::StatusPayload, ServerMessage, Uuid};
use tokio::sync::broadcast;

/// One serialized frame, cheap to clone: all sockets share its bytes.
pub type Frame = bytestring::ByteString;

/// Serializes `message` once into a shareable frame.
pub fn frame(message: &ServerMessage) -> Frame {
    Frame::from(message.to_json())
}

/// Why a bus could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus authentication failed: {0}")]
    Auth(String),
    #[error("bus connection failed: {0}")]
    Connect(String),
    #[error("bus configuration is invalid: {0}")]
    Config(String),
}

/// Where world updates go.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Hands one world frame of `game` to the bus, in order. Never waits: an
    /// implementation that talks to a network queues the frame and delivers it from a
    /// task of its own, so a slow or absent broker never stalls a game.
    fn publish(&self, game: Uuid, frame: Frame);
    /// Publishes a take-over marker for `game`: a message for the instances, never a
    /// frame for clients, that the new owner reads the topic up to (`cluster::tail`).
    /// Only a bus shared by several instances has anything to mark.
    fn publish_marker(&self, _game: Uuid, _nonce: &str) {}
    /// Hands a frame caused by the cluster command `cause` to the bus: a bus shared by
    /// several instances records the cause with it, so that a new owner of the game
    /// knows the command was applied (`cluster::host`); any other bus publishes it.
    fn publish_caused(&self, game: Uuid, frame: Frame, _cause: Uuid) {
        self.publish(game, frame);
    }
    /// Publishes the owner's count of `game`'s players for every instance's lobby
    /// (`cluster::census`). Only a bus shared by several instances has lobbies to tell.
    fn publish_census(&self, _game: Uuid, _players: usize) {}
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
/// read it. A receiver that falls more than the capacity behind gets `Lagged`, and its
/// socket is closed: a slow reader is dropped rather than allowed to hold frames for
/// everyone. A game's channel goes away with its last socket.
#[derive(Clone)]
pub struct Fanout {
    /// The sending side of each game's channel; world sockets subscribe to it. A `std`
    /// mutex: held for a map lookup, never across an `.await`.
    games: Arc<Mutex<HashMap<Uuid, broadcast::Sender<Frame>>>>,
    /// How far each socket may fall behind.
    capacity: usize,
    /// Whether the bus delivers now; a change is announced to every world socket.
    bus_ok: Arc<AtomicBool>,
}

impl Fanout {
    /// A fan-out in which each socket may fall `capacity` frames behind.
    pub fn new(capacity: usize) -> Self {
        Fanout {
            games: Arc::default(),
            capacity: capacity.max(1),
            bus_ok: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Hands `frame` to every local world socket of `game`.
    pub fn deliver(&self, game: Uuid, frame: Frame) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut games = self.games.lock().unwrap();
        if let Some(tx) = games.get(&game) {
            if tx.send(frame).is_err() {
                // its last socket is gone: forget the channel
                games.remove(&game);
            }
        }
    }

    /// Hands `frame` to every local world socket of every game.
    pub fn deliver_all(&self, frame: Frame) {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        games.retain(|_, tx| tx.send(frame.clone()).is_ok());
    }

    /// A receiver of `game`'s frames, from now on.
    pub fn subscribe(&self, game: Uuid) -> broadcast::Receiver<Frame> {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        let capacity = self.capacity;
        games
            .entry(game)
            .or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe()
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
        let fanout = Fanout::new(8);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut on_a = fanout.subscribe(a);
        let mut on_b = fanout.subscribe(b);
        fanout.deliver(a, Frame::from("for a"));
        fanout.deliver_all(Frame::from("for all"));
        assert_eq!(on_a.try_recv().unwrap(), "for a");
        assert_eq!(on_a.try_recv().unwrap(), "for all");
        assert_eq!(on_b.try_recv().unwrap(), "for all");
        assert!(on_b.try_recv().is_err());
    }

    #[test]
    fn a_game_without_sockets_keeps_no_channel() {
        let fanout = Fanout::new(8);
        let game = Uuid::from_u128(1);
        drop(fanout.subscribe(game));
        fanout.deliver(game, Frame::from("nobody listens"));
        assert!(fanout.games.lock().unwrap().is_empty());
        // a socket that comes later gets a fresh channel
        let mut later = fanout.subscribe(game);
        fanout.deliver(game, Frame::from("now"));
        assert_eq!(later.try_recv().unwrap(), "now");
    }
}
