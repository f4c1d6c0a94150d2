//! The world socket's writing side: the connection reads the world updates straight
//! from the game's ring, as the HTTP response body of the upgraded connection.
//!
//! Why not the socket task writing through actix-ws' `Session`, as the player socket
//! does: each frame would then wake two tasks (the socket task, then the connection's
//! dispatcher), cross a channel, arm a send timeout and be framed and copied by every
//! socket. Here the ring wakes the connection's dispatcher directly, which pulls every
//! queued update in one poll and writes them with one syscall; an update is the state
//! bytes of a message framed once for all sockets ([`Wire`]), copied once into the
//! connection's write buffer. A lone update still goes out at once: nothing waits.
//!
//! What the socket task writes (pongs, pings, the close) comes through [`Control`], a
//! queue behind a flag this body reads once per wake-up (actix-ws' own body, polled
//! instead, cost an empty channel poll per wake-up: 6% of the server at 800 players).
//! actix-ws' body is kept, unpolled, for its drop: that tells the socket task's reader
//! that the connection ended. After a close frame, this body ends. A client that
//! stops reading stops the dispatcher from polling: its ring position falls behind and
//! it is closed as too slow when polled again, or by the heartbeat (its ping is stuck
//! behind the unread updates, so no pong comes).
//!
//! On the one socket (`ws::one`) the same body writes the game's batches, and the
//! player socket's task, which writes through actix-ws' session, is the other writer:
//! actix-ws' body is polled before the updates ([`Writer::Session`]). The empty channel
//! poll per wake-up is paid there, in place of a second connection.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::task::AtomicWaker;
use futures_util::Stream;
use protocol::Uuid;
use tokio::sync::broadcast;
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};
use tokio_util::codec::Encoder;

use crate::state::AppState;
use game_core::bus::Wire;

/// The frames the socket task has its outflow write: pongs, pings and the close.
#[derive(Clone, Default)]
pub struct Control(Arc<ControlShared>);

#[derive(Default)]
struct ControlShared {
    /// Frames not yet written, oldest first. A `std` mutex: held to push or pop.
    queue: Mutex<VecDeque<Message>>,
    /// Whether `queue` may hold something: the outflow's cheap check.
    pending: AtomicBool,
    /// The connection to wake when a frame is queued.
    waker: AtomicWaker,
}

impl Control {
    /// Queues `message` for the client, after the update being written now.
    pub fn send(&self, message: Message) {
        // unwrap: never held across an await, nothing panics under it
        self.0.queue.lock().unwrap().push_back(message);
        self.0.pending.store(true, Ordering::Release);
        self.0.waker.wake();
    }

    /// The oldest queued frame, if any.
    fn take(&self) -> Option<Message> {
        if !self.0.pending.load(Ordering::Acquire) {
            return None;
        }
        // unwrap: as in `send`
        let mut queue = self.0.queue.lock().unwrap();
        let message = queue.pop_front();
        if queue.is_empty() {
            self.0.pending.store(false, Ordering::Release);
        }
        message
    }
}

/// Who writes on the connection besides the game's updates.
pub enum Writer {
    /// A world socket: its socket task's frames come through a [`Control`].
    Control {
        /// What the socket task writes.
        control: Control,
        /// actix-ws' body of this socket, never polled: dropped with this one, it tells
        /// the socket task's reader that the connection ended.
        _actix_ws: BoxBody,
    },
    /// The one socket (`ws::one`): the player socket's task writes through actix-ws'
    /// session as on a player socket, and actix-ws' body, polled here before the
    /// updates, frames what it writes (direct replies, pongs, pings, the close). When
    /// it ends (after a close), this body ends; dropped, it ends the task's reader.
    Session(BoxBody),
}

/// The response body of one world socket, or of the one socket.
pub struct Outflow {
    /// Who else writes on the connection.
    writer: Writer,
    /// The game's updates (one message each, or batches), state with its other sockets.
    updates: BroadcastStream<Wire>,
    /// A message to write before any update (the bus status, when the bus is down).
    first: Option<Wire>,
    /// This side closed the socket: the body ends.
    done: bool,
    /// The player id of the path, for logs.
    player: Uuid,
    state: Arc<AppState>,
}

type Chunk = Poll<Option<Result<Bytes, Box<dyn std::error::Error>>>>;

impl Outflow {
    pub fn new(
        writer: Writer,
        updates: broadcast::Receiver<Wire>,
        first: Option<Wire>,
        player: Uuid,
        state: Arc<AppState>,
    ) -> Self {
        Outflow {
            writer,
            updates: BroadcastStream::new(updates),
            first,
            done: false,
            player,
            state,
        }
    }

    /// Writes `wire` (counted in the metrics).
    fn write(&self, wire: &Wire) -> Chunk {
        self.state.sockets.sent(wire.payload_len());
        Poll::Ready(Some(Ok(wire.bytes().clone())))
    }

    /// Writes a frame of the socket task's; after a close, the body ends.
    fn write_control(&mut self, message: Message) -> Chunk {
        self.done = matches!(message, Message::Close(_));
        let mut out = BytesMut::new();
        match actix_http::ws::Codec::new().encode(message, &mut out) {
            Ok(()) => Poll::Ready(Some(Ok(out.freeze()))),
            // control frames always encode; if one did not, the connection just ends
            Err(_) => Poll::Ready(None),
        }
    }

    /// Ends the socket from this side with a close frame saying why.
    fn close(&mut self, code: CloseCode, why: &str) -> Chunk {
        self.write_control(Message::Close(Some(CloseReason {
            code,
            description: Some(why.into()),
        })))
    }
}

impl MessageBody for Outflow {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // the socket task's frames first: a pong, a reply or the close waits at most for
        // the update being written
        match &mut this.writer {
            Writer::Control { control, .. } => {
                if let Some(message) = control.take() {
                    return this.write_control(message);
                }
            }
            Writer::Session(body) => match Pin::new(body).poll_next(cx) {
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(chunk) => return Poll::Ready(chunk),
                // the session's channel wakes us when the task writes again
                Poll::Pending => {}
            },
        }
        if let Some(first) = this.first.take() {
            return this.write(&first);
        }
        match Pin::new(&mut this.updates).poll_next(cx) {
            Poll::Ready(Some(Ok(wire))) => this.write(&wire),
            Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                this.state.sockets.socket_queue_drop();
                tracing::warn!(player = %this.player, missed, "world socket too slow; dropping it");
                this.close(CloseCode::Policy, "too slow to keep up with the game")
            }
            // the game's stream ended under the socket (a batch task that fell behind)
            Poll::Ready(None) => this.close(
                CloseCode::Again,
                "the world stream was interrupted; reconnect",
            ),
            Poll::Pending => {
                let Writer::Control { control, .. } = &this.writer else {
                    return Poll::Pending;
                };
                // a frame queued between the check above and now must wake us
                control.0.waker.register(cx.waker());
                match control.take() {
                    Some(message) => this.write_control(message),
                    None => Poll::Pending,
                }
            }
        }
    }
}
