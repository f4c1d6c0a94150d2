//! The world bus: every world update goes through it, and comes back out of it into
//! this instance's [`Fanout`], which hands it to every local world socket.
//!
//! [`inprocess`] is the default (one instance, nothing to install); [`pulsar`] runs the
//! updates through an Apache Pulsar topic so that many instances see the same stream.
//! Frames are serialized once, by the room, and shared as [`Frame`] (a reference-counted
//! string) by every socket that sends them.

pub mod inprocess;
pub mod pulsar;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// Delivers what is queued (within a bounded time) and releases the bus's resources.
    async fn close(&self);
}

/// This instance's local fan-out of world frames to its world sockets.
///
/// A tokio broadcast channel: one ring buffer shared by every receiver, so a frame is
/// stored once however many sockets read it. A receiver that falls more than the
/// capacity behind gets `Lagged`, and its socket is closed: a slow reader is dropped
/// rather than allowed to hold frames for everyone.
#[derive(Clone)]
pub struct Fanout {
    /// The sending side; world sockets subscribe to it.
    tx: broadcast::Sender<Frame>,
    /// Whether the bus delivers now; a change is announced to every world socket.
    bus_ok: Arc<AtomicBool>,
}

impl Fanout {
    /// A fan-out in which each socket may fall `capacity` frames behind.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Fanout {
            tx,
            bus_ok: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Hands `frame` to every local world socket.
    pub fn deliver(&self, frame: Frame) {
        // an error only means no socket is listening right now
        let _ = self.tx.send(frame);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// Records whether the bus delivers now, and tells every world socket when that
    /// changes, so clients can show that updates are delayed.
    pub fn set_bus_ok(&self, ok: bool) {
        if self.bus_ok.swap(ok, Ordering::Relaxed) != ok {
            self.deliver(frame(&ServerMessage::Status {
                payload: StatusPayload { bus_ok: ok },
            }));
        }
    }

    pub fn bus_ok(&self) -> bool {
        self.bus_ok.load(Ordering::Relaxed)
    }
}
