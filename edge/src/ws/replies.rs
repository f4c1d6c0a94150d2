//! Where a player task writes: the direct replies, pongs, pings and the close.
//!
//! On a player socket that is actix-ws' session, which frames each message and queues it
//! for the connection; on the one socket it is the outflow's queue ([`Control`]), which
//! the connection's body reads between the game's updates, so that the connection polls
//! one writer, not two (issue 22: the second one, actix-ws' body, was 5% of the server's
//! samples at 800 one-socket players).

use actix_ws::{CloseReason, Message, Session};

use super::world::outflow::Control;
use super::{Gone, SEND_TIMEOUT};
use crate::metrics::SocketMetrics;
use game_core::bus::Frame;

/// A player task's way out to its client.
pub enum Replies {
    /// A player socket: actix-ws' session; a frame the connection does not take within
    /// [`SEND_TIMEOUT`] means the client is stuck.
    Session(Session),
    /// The one socket: the outflow's queue, bounded in bytes
    /// ([`super::world::outflow::MAX_QUEUED_BYTES`]).
    Outflow(Control),
}

impl Replies {
    /// Writes one text frame.
    pub async fn text(&mut self, frame: Frame, metrics: &SocketMetrics) -> Result<(), Gone> {
        let len = frame.len();
        match self {
            Replies::Session(session) => {
                match tokio::time::timeout(SEND_TIMEOUT, session.text(frame)).await {
                    Ok(Ok(())) => {}
                    _ => return Err(Gone),
                }
            }
            Replies::Outflow(control) => control.send(Message::Text(frame)).map_err(|_| Gone)?,
        }
        metrics.sent(len);
        Ok(())
    }

    /// Answers a client's ping; a control frame carries at most 125 bytes (RFC 6455 5.5).
    pub async fn pong(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        let bytes = &bytes[..bytes.len().min(125)];
        match self {
            Replies::Session(session) => session.pong(bytes).await.map_err(|_| Gone),
            Replies::Outflow(control) => control
                .send(Message::Pong(bytes.to_vec().into()))
                .map_err(|_| Gone),
        }
    }

    /// Pings the client (the heartbeat).
    pub async fn ping(&mut self) -> Result<(), Gone> {
        match self {
            Replies::Session(session) => session.ping(b"").await.map_err(|_| Gone),
            Replies::Outflow(control) => control
                .send(Message::Ping(Default::default()))
                .map_err(|_| Gone),
        }
    }

    /// Closes the socket, saying why; the last frame written.
    pub async fn close(self, reason: Option<CloseReason>) {
        match self {
            Replies::Session(session) => {
                let _ = session.close(reason).await;
            }
            // refused only when a close is queued already (a client too slow)
            Replies::Outflow(control) => {
                let _ = control.send(Message::Close(reason));
            }
        }
    }
}
