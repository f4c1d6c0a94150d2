//! The world socket's writing side: the connection reads the world updates straight
//! from the game's ring, as the HTTP response body of the upgraded connection.
//!
//! Why not the socket task writing through actix-ws' `Session`, as the player socket
//! does: each frame would then wake two tasks (the socket task, then the connection's
//! dispatcher), cross a channel, arm a send timeout and be framed and copied by every
//! socket. Here the ring wakes the connection's dispatcher directly, which pulls every
//! queued update in one poll and writes them with one syscall; an update is the shared
//! bytes of a message framed once for all sockets ([`Wire`]), copied once into the
//! connection's write buffer. A lone update still goes out at once: nothing waits.
//!
//! What the socket task writes (pongs, pings, the close) still goes through its
//! `Session`, into actix-ws' own body, which this body wraps and polls first; when that
//! body ends (the task closed the socket or is gone), so does this one. A client that
//! stops reading stops the dispatcher from polling: its ring position falls behind and
//! it is closed as too slow when polled again, or by the heartbeat (its ping is stuck
//! behind the unread updates, so no pong comes).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use actix_ws::{CloseCode, CloseReason, Message};
use futures_util::Stream;
use protocol::Uuid;
use tokio::sync::broadcast;
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};
use tokio_util::codec::Encoder;

use crate::app::Shared;
use crate::bus::Wire;

/// The response body of one world socket.
pub struct Outflow {
    /// actix-ws' body of this socket: what the socket task writes through its `Session`.
    control: BoxBody,
    /// The game's updates (one message each, or batches), shared with its other sockets.
    updates: BroadcastStream<Wire>,
    /// A message to write before any update (the bus status, when the bus is down).
    first: Option<Wire>,
    /// This side closed the socket: the body ends.
    done: bool,
    /// The control body was polled since the last `Pending`: polling it again for
    /// every update of a burst would cost more than the update (an empty channel's
    /// poll); a control frame queued meanwhile wakes the connection, which polls anew.
    control_polled: bool,
    /// The player id of the path, for logs.
    player: Uuid,
    shared: Arc<Shared>,
}

impl Outflow {
    pub fn new(
        control: BoxBody,
        updates: broadcast::Receiver<Wire>,
        first: Option<Wire>,
        player: Uuid,
        shared: Arc<Shared>,
    ) -> Self {
        Outflow {
            control,
            updates: BroadcastStream::new(updates),
            first,
            done: false,
            control_polled: false,
            player,
            shared,
        }
    }

    /// Writes `wire` (counted in the metrics).
    fn write(&self, wire: &Wire) -> Poll<Option<Result<Bytes, Box<dyn std::error::Error>>>> {
        self.shared.metrics.sent(wire.payload_len());
        Poll::Ready(Some(Ok(wire.bytes().clone())))
    }

    /// Ends the socket from this side with a close frame saying why.
    fn close(
        &mut self,
        code: CloseCode,
        why: &str,
    ) -> Poll<Option<Result<Bytes, Box<dyn std::error::Error>>>> {
        self.done = true;
        let mut out = BytesMut::new();
        let reason = CloseReason {
            code,
            description: Some(why.into()),
        };
        match actix_http::ws::Codec::new().encode(Message::Close(Some(reason)), &mut out) {
            Ok(()) => Poll::Ready(Some(Ok(out.freeze()))),
            // a close frame always encodes; if not, the connection just ends
            Err(_) => Poll::Ready(None),
        }
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
        // the socket task's own frames first, once per wake-up: a pong or the close
        // waits at most for the burst of updates already being written
        if !this.control_polled {
            match Pin::new(&mut this.control).poll_next(cx) {
                Poll::Ready(Some(chunk)) => return Poll::Ready(Some(chunk)),
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => this.control_polled = true,
            }
        }
        if let Some(first) = this.first.take() {
            return this.write(&first);
        }
        match Pin::new(&mut this.updates).poll_next(cx) {
            Poll::Ready(Some(Ok(wire))) => this.write(&wire),
            Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                this.shared.metrics.socket_queue_drop();
                tracing::warn!(player = %this.player, missed, "world socket too slow; dropping it");
                this.close(CloseCode::Policy, "too slow to keep up with the game")
            }
            // the game's stream ended under the socket (a batch task that fell behind)
            Poll::Ready(None) => this.close(
                CloseCode::Again,
                "the world stream was interrupted; reconnect",
            ),
            Poll::Pending => {
                this.control_polled = false;
                Poll::Pending
            }
        }
    }
}
