//! The world socket's writing side: the connection reads the world updates straight
//! from the game's ring, as the HTTP response body of the upgraded connection.
//!
//! Why not the socket task writing through actix-ws' `Session`, as the player socket
//! does: each frame would then wake two tasks (the socket task, then the connection's
//! dispatcher), cross a channel, arm a send timeout and be framed and copied by every
//! socket. Here the ring wakes the connection's dispatcher (through its thread's relay,
//! [`super::relay`]: one cross-thread wake-up per thread, not per socket), which pulls
//! every queued update in one poll and writes them with one syscall; an update is the state
//! bytes of a message framed once for all sockets ([`Wire`]), copied once into the
//! connection's write buffer. A lone update still goes out at once: nothing waits.
//!
//! What the socket task writes (pongs, pings, the close; on the one socket also the
//! direct replies) comes through [`Control`], a queue behind a flag this body reads
//! once per wake-up (actix-ws' own body, polled instead, cost an empty channel poll per
//! wake-up: 6% of the server at 800 players on world sockets, and 5% of the server's
//! samples on the one socket, where it carried the replies until issue 22). actix-ws'
//! body is kept, unpolled, for its drop: that tells the socket task's reader that the
//! connection ended. After a close frame, this body ends. A client that stops reading
//! stops the dispatcher from polling: its ring position falls behind and it is closed
//! as too slow when polled again, or by the heartbeat (its ping is stuck behind the
//! unread updates, so no pong comes); what its task queues meanwhile is bounded by
//! [`MAX_QUEUED_BYTES`].
//!
//! On the one socket (`ws::one`) the same body writes the game's batches, and the
//! player socket's task queues its replies here ([`super::super::replies`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::task::AtomicWaker;
use protocol::Uuid;
use tokio::sync::broadcast::{self, error::TryRecvError};
use tokio_util::codec::Encoder;

use super::relay::Doorbell;
use crate::state::AppState;
use game_core::bus::Wire;

/// Bytes a socket task may have queued for a client that does not read them before the
/// client counts as too slow: far above a brief of a full game, far below what a
/// connection costs otherwise. A world socket queues pongs only (a client pinging
/// without reading hits it); the one socket its direct replies as well.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// Slots an empty queue keeps: a reply, a pong and a ping between two reads.
const KEPT_SLOTS: usize = 4;

/// The close queued, in place of everything unread, for a client over [`MAX_QUEUED_BYTES`].
const TOO_SLOW: &str = "too slow to keep up with the game";

/// The frames the socket task has its outflow write: pongs, pings, the close, and on the
/// one socket the direct replies.
#[derive(Clone, Default)]
pub struct Control(Arc<ControlShared>);

#[derive(Default)]
struct ControlShared {
    /// Frames not yet written. A `std` mutex: held to push or pop.
    queue: Mutex<Queue>,
    /// Whether `queue` may hold something: the outflow's cheap check.
    pending: AtomicBool,
    /// The connection to wake when a frame is queued.
    waker: AtomicWaker,
}

#[derive(Default)]
struct Queue {
    /// Oldest first.
    frames: VecDeque<Message>,
    /// What `frames` weigh ([`weight`]).
    bytes: usize,
    /// A close is queued: nothing goes after it.
    closed: bool,
}

/// The client left more than [`MAX_QUEUED_BYTES`] unread, or the socket is closing: the
/// frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused;

/// What a queued frame holds of memory, near enough.
fn weight(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(reason) => reason
            .as_ref()
            .and_then(|r| r.description.as_ref())
            .map_or(0, String::len),
        Message::Continuation(_) | Message::Nop => 0,
    }
}

impl Control {
    /// Queues `message` for the client, after what is queued. A close is the last frame
    /// queued. `Err` once the socket is closing, or when the client left more than
    /// [`MAX_QUEUED_BYTES`] unread: what it did not read is then dropped for a close
    /// saying it was too slow.
    pub fn send(&self, message: Message) -> Result<(), Refused> {
        {
            // unwrap: never held across an await, nothing panics under it
            let mut queue = self.0.queue.lock().unwrap();
            if queue.closed {
                return Err(Refused);
            }
            let weight = weight(&message);
            let over = queue.bytes + weight > MAX_QUEUED_BYTES;
            let message = if over {
                queue.frames.clear();
                queue.bytes = 0;
                Message::Close(Some(CloseReason {
                    code: CloseCode::Policy,
                    description: Some(TOO_SLOW.into()),
                }))
            } else {
                queue.bytes += weight;
                message
            };
            queue.closed = matches!(message, Message::Close(_));
            queue.frames.push_back(message);
            if over {
                drop(queue);
                self.wake();
                return Err(Refused);
            }
        }
        self.wake();
        Ok(())
    }

    fn wake(&self) {
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
        let message = queue.frames.pop_front();
        if let Some(message) = &message {
            queue.bytes -= weight(message).min(queue.bytes);
        }
        if queue.frames.is_empty() {
            self.0.pending.store(false, Ordering::Release);
            // a brief is queued as one frame per item (800 at 800 players), and the
            // queue would keep room for all of them for the socket's life: 19 KiB an
            // idle one-socket player, measured
            if queue.frames.capacity() > KEPT_SLOTS {
                queue.frames = VecDeque::new();
            }
        }
        message
    }
}

/// The response body of one world socket, or of the one socket.
pub struct Outflow {
    /// What the socket task writes.
    control: Control,
    /// actix-ws' body of this socket, never polled: dropped with this one, it tells the
    /// socket task's reader that the connection ended.
    _actix_ws: BoxBody,
    /// The game's updates (one message each, or batches), state with its other sockets;
    /// read with `try_recv`, woken by `doorbell`.
    updates: broadcast::Receiver<Wire>,
    /// Wakes this body when `updates` has something (one wake-up per thread, `relay`).
    doorbell: Doorbell,
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
        control: Control,
        actix_ws: BoxBody,
        updates: broadcast::Receiver<Wire>,
        doorbell: Doorbell,
        first: Option<Wire>,
        player: Uuid,
        state: Arc<AppState>,
    ) -> Self {
        Outflow {
            control,
            _actix_ws: actix_ws,
            updates,
            doorbell,
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
        if let Some(message) = this.control.take() {
            return this.write_control(message);
        }
        if let Some(first) = this.first.take() {
            return this.write(&first);
        }
        match this.updates.try_recv() {
            Ok(wire) => this.write(&wire),
            Err(TryRecvError::Lagged(missed)) => {
                this.state.sockets.socket_queue_drop();
                tracing::warn!(player = %this.player, missed, "world socket too slow; dropping it");
                this.close(CloseCode::Policy, "too slow to keep up with the game")
            }
            // the game's stream ended under the socket (a batch task that fell behind)
            Err(TryRecvError::Closed) => this.close(
                CloseCode::Again,
                "the world stream was interrupted; reconnect",
            ),
            Err(TryRecvError::Empty) => {
                // no update can come between the read above and this: the relay that
                // rings runs on this thread, after this poll
                this.doorbell.register(cx.waker());
                // a frame queued between the check above and now must wake us
                this.control.0.waker.register(cx.waker());
                match this.control.take() {
                    Some(message) => this.write_control(message),
                    None => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(len: usize) -> Message {
        Message::Text("x".repeat(len).into())
    }

    #[test]
    fn frames_come_out_in_the_order_they_were_queued() {
        let control = Control::default();
        assert_eq!(control.take(), None);
        control.send(text(3)).unwrap();
        control
            .send(Message::Pong(Bytes::from_static(b"p")))
            .unwrap();
        assert_eq!(control.take(), Some(text(3)));
        assert_eq!(
            control.take(),
            Some(Message::Pong(Bytes::from_static(b"p")))
        );
        assert_eq!(control.take(), None);
    }

    #[test]
    fn nothing_is_queued_after_a_close() {
        let control = Control::default();
        control.send(text(1)).unwrap();
        control.send(Message::Close(None)).unwrap();
        assert_eq!(control.send(text(1)), Err(Refused));
        assert_eq!(control.send(Message::Close(None)), Err(Refused));
        assert_eq!(control.take(), Some(text(1)));
        assert_eq!(control.take(), Some(Message::Close(None)));
        assert_eq!(control.take(), None);
    }

    #[test]
    fn a_client_that_leaves_too_much_unread_gets_only_a_close() {
        let control = Control::default();
        let frame = 64 * 1024;
        for _ in 0..MAX_QUEUED_BYTES / frame {
            control.send(text(frame)).unwrap();
        }
        // one byte more than the bound: everything unread goes, for the close
        assert_eq!(control.send(text(1)), Err(Refused));
        let Some(Message::Close(Some(reason))) = control.take() else {
            panic!("the close comes first, in place of the unread frames");
        };
        assert_eq!(reason.code, CloseCode::Policy);
        assert_eq!(reason.description.as_deref(), Some(TOO_SLOW));
        assert_eq!(control.take(), None);
        assert_eq!(control.send(text(1)), Err(Refused), "the socket is closing");
    }

    #[test]
    fn what_was_written_no_longer_counts_against_the_bound() {
        let control = Control::default();
        let frame = 64 * 1024;
        // three times the bound goes through a reader that keeps up
        for _ in 0..3 * MAX_QUEUED_BYTES / frame {
            control.send(text(frame)).unwrap();
            assert_eq!(control.take(), Some(text(frame)));
        }
        assert_eq!(control.0.queue.lock().unwrap().bytes, 0);
    }

    #[test]
    fn an_emptied_queue_lets_go_of_the_room_a_brief_took() {
        let control = Control::default();
        for _ in 0..800 {
            control.send(text(10)).unwrap();
        }
        while control.take().is_some() {}
        assert!(control.0.queue.lock().unwrap().frames.capacity() <= KEPT_SLOTS);
    }
}
