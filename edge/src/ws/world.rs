//! The world socket: every update from the bus, out to one client.
//!
//! Two halves: [`outflow`], the connection's response body, writes the game's updates
//! straight from its ring; [`run`], the socket task, reads what the client sends
//! (pings, the close, refused frames), keeps the heartbeat and closes the socket at
//! shutdown, through the outflow's [`Control`].

pub mod outflow;
mod relay;

pub use relay::Doorbell;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, Message};
use protocol::{
    server::{ResumedPayload, StatusPayload},
    ServerMessage, Uuid,
};
use tokio::sync::broadcast;

use super::{close, close_for, flooding, Heartbeat};
use crate::guard::rate::{FrameFate, FrameLimiter};
use crate::state::AppState;
use game_core::bus::{frame, Wire};
use outflow::Control;

/// Subscribes a socket to `game`'s updates (batches with `batch`), and the message to
/// write before them: the bus status when the bus is down, and for a client that
/// resumes after update `after` (batches only), the `resumed` frame and every update
/// it missed, if this instance still has them; the last value says whether it does.
/// Called before the handshake is answered, so that no update published after the
/// client's handshake completes can be missed.
pub fn subscribe(
    state: &AppState,
    game: Uuid,
    batch: bool,
    after: Option<u64>,
) -> (broadcast::Receiver<Wire>, Option<Wire>, bool) {
    let (updates, missed) = if batch {
        state.fanout.resume_batched(game, after)
    } else {
        (state.fanout.subscribe(game), None)
    };
    let status = (!state.fanout.bus_ok()).then(|| {
        Wire::text(&frame(&ServerMessage::Status {
            payload: StatusPayload { bus_ok: false },
        }))
    });
    let resumed = missed.is_some();
    if let (Some(after), Some(missed)) = (after, missed) {
        state.sockets.resumed(missed.len());
        // the batched stream is batches only, even the first message; the `resumed`
        // frame first, so the client knows before any update that no brief comes
        let mut first = Vec::with_capacity(missed.len() + 2);
        first.push(Wire::text(&frame(&ServerMessage::Resumed {
            payload: ResumedPayload { after },
        })));
        first.extend(status);
        first.extend(missed);
        return (updates, Some(Wire::batch(&first)), true);
    }
    if after.is_some() {
        state.sockets.resume_refused();
    }
    let first = match (status, batch) {
        (Some(status), true) => Some(Wire::batch(&[status])),
        (first, _) => first,
    };
    (updates, first, resumed)
}

/// What a world socket does with a data frame its client writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientFrames {
    /// Ignores it (the reference's world socket is one-way), and closes a client that
    /// keeps writing as a flooder.
    Ignored,
    /// Closes the socket with 1008 [`NO_COMMANDS`]: a spectator's socket, whose client
    /// must learn at once that it cannot play.
    Refused,
}

/// The close of a spectator that sent a frame.
pub const NO_COMMANDS: &str = "a spectator cannot send moves or chat; open a player socket to play";

/// Serves one world socket's reading side until it closes.
pub async fn run(
    control: Control,
    mut stream: AggregatedMessageStream,
    address: IpAddr,
    frames: ClientFrames,
    state: Arc<AppState>,
) {
    let metrics = &state.sockets;
    metrics.world_socket_opened();
    let mut heartbeat = Heartbeat::new();
    // the world socket is one-way: every frame a client writes on it is refused
    let mut limiter = FrameLimiter::new(state.guard.rates, Instant::now());
    // one shutdown future for the socket's whole life: a new one per turn of the loop
    // would take the token's lock, state by every socket, twice per frame
    let shutdown = state.shutdown.cancelled();
    tokio::pin!(shutdown);
    let reason = loop {
        tokio::select! {
            message = stream.recv() => {
                heartbeat.heard();
                match message {
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        // a control frame carries at most 125 bytes (RFC 6455 5.5)
                        if control.send(Message::Pong(bytes.slice(..bytes.len().min(125)))).is_err() {
                            break None;
                        }
                    }
                    // the world socket is one-way; what a client writes is ignored, and
                    // a client that keeps writing is closed
                    Some(Ok(AggregatedMessage::Text(_) | AggregatedMessage::Binary(_))) => {
                        metrics.frame_refused();
                        if frames == ClientFrames::Refused {
                            break close(CloseCode::Policy, NO_COMMANDS);
                        }
                        if limiter.refused(Instant::now()) == FrameFate::Close {
                            break flooding(&state, address);
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                    Some(Err(e)) => break close_for(&e),
                }
            }
            _ = heartbeat.tick() => {
                if let Err(reason) = heartbeat.check() {
                    break reason;
                }
                if control.send(Message::Ping(Default::default())).is_err() {
                    break None;
                }
            }
            _ = &mut shutdown => break close(CloseCode::Away, "the server is shutting down"),
        }
    };
    metrics.world_socket_closed();
    // refused only when a close is queued already
    let _ = control.send(Message::Close(reason));
}
