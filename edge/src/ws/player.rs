//! The player socket: the player's own commands in, direct replies out.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode};
use protocol::{server::ErrorPayload, ClientMessage, ServerMessage, Uuid};
use tokio::sync::mpsc;

use super::replies::Replies;
use super::{close, close_for, flooding, Gone, Heartbeat};
use crate::guard::rate::{FrameFate, FrameLimiter, Limited};
use crate::state::AppState;
use game_core::bus::{frame, Frame};
use game_core::registry::JoinError;
use game_core::room::{try_again_later, ConnectError, Direct};

/// Direct messages a player socket may have queued before it counts as too slow. A brief
/// is one message, however many frames it holds.
const OUTBOX: usize = 64;

/// What the client needs of the brief that answers its `entering`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Brief {
    /// All of it: the client knows nothing of the game yet.
    Whole,
    /// Its token, if one was just bound, and its own position: the client's world
    /// stream resumed where it broke (docs/protocol.md, "Resuming the world stream"),
    /// so it knows the board, and everything since came with the stream.
    Resumed,
}

impl Brief {
    /// The frames of a brief the client is sent. The room builds the whole brief
    /// (token first, own position last: `game_core::room`); a resumed client is sent
    /// the token and its own position only. Only the first brief is cut: a later one
    /// (the client left and entered again on the same socket) is whole.
    fn cut(&mut self, mut brief: Vec<Frame>) -> Vec<Frame> {
        if std::mem::replace(self, Brief::Whole) == Brief::Whole {
            return brief;
        }
        let own = brief.pop();
        brief.retain(|f| f.starts_with(r#"{"messageType":"token""#));
        brief.extend(own);
        brief
    }
}

/// Serves one player socket of `game` until it closes.
pub async fn run(
    game: Uuid,
    player: Uuid,
    mut replies: Replies,
    mut stream: AggregatedMessageStream,
    address: IpAddr,
    mut brief: Brief,
    state: Arc<AppState>,
) {
    let (outbox, mut inbox) = mpsc::channel(OUTBOX);
    let (room, conn) = match state.registry.connect(game, player, outbox).await {
        Ok(joined) => joined,
        Err(e) => {
            tracing::info!(%player, reason = %e, "player socket refused");
            replies.close(close(refusal_code(&e), &e.to_string())).await;
            return;
        }
    };
    let metrics = &state.sockets;
    metrics.player_connected();
    let mut heartbeat = Heartbeat::new();
    let mut limiter = FrameLimiter::new(state.guard.rates, Instant::now());
    // one shutdown future for the socket's whole life, as on the world socket: a new one
    // per turn of the loop would take the state token's lock twice per frame
    let shutdown = state.shutdown.cancelled();
    tokio::pin!(shutdown);
    let reason = loop {
        tokio::select! {
            message = stream.recv() => {
                heartbeat.heard();
                match message {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        metrics.frame_in();
                        let now = Instant::now();
                        let (verdict, reason) = match ClientMessage::parse(&text) {
                            Ok(message) => match Limited::of(&message).map(|kind| (kind, limiter.admit(kind, now))) {
                                None | Some((_, FrameFate::Pass)) => {
                                    if room.send(player, conn, message).await.is_err() {
                                        break close(CloseCode::Away, "the server is shutting down");
                                    }
                                    continue;
                                }
                                Some((kind, verdict)) => {
                                    state.guard.metrics.frame_limited(kind);
                                    (verdict, format!("too many {} frames: dropped", kind.as_str()))
                                }
                            },
                            Err(e) => {
                                metrics.frame_refused();
                                (limiter.refused(now), format!("invalid frame: {e}"))
                            }
                        };
                        if verdict == FrameFate::Close {
                            break flooding(&state, address);
                        }
                        if refuse(&mut replies, reason, &state).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        metrics.frame_refused();
                        if limiter.refused(Instant::now()) == FrameFate::Close {
                            break flooding(&state, address);
                        }
                        if refuse(&mut replies, "binary frames are not part of the protocol".into(), &state).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if replies.pong(&bytes).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                    Some(Err(e)) => {
                        metrics.frame_refused();
                        break close_for(&e);
                    }
                }
            }
            direct = inbox.recv() => match direct {
                Some(Direct::Frame(f)) => {
                    if replies.text(f, metrics).await.is_err() {
                        break None;
                    }
                }
                Some(Direct::Batch(frames)) => {
                    let mut sent = Ok(());
                    for f in brief.cut(frames) {
                        sent = replies.text(f, metrics).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    if sent.is_err() {
                        break None;
                    }
                }
                Some(Direct::Close(reason)) => {
                    // the game's rules refuse (1008); a cluster's owner at its cap asks
                    // to come back later (1013)
                    let code = if try_again_later(reason) { CloseCode::Again } else { CloseCode::Policy };
                    break close(code, reason);
                }
                // the room let go of this socket: it could not keep up
                None => break close(CloseCode::Policy, "too slow to keep up with the game"),
            },
            _ = heartbeat.tick() => {
                if let Err(reason) = heartbeat.beat(&mut replies).await {
                    break reason;
                }
            }
            _ = &mut shutdown => break close(CloseCode::Away, "the server is shutting down"),
        }
    };
    room.disconnect(player, conn).await;
    metrics.player_disconnected();
    replies.close(reason).await;
}

/// The close code of a refused join: the reference's 1008 for a taken id, "try again
/// later" where waiting helps.
pub(super) fn refusal_code(error: &JoinError) -> CloseCode {
    match error {
        JoinError::Connect(ConnectError::Closed) => CloseCode::Away,
        JoinError::Full(_) | JoinError::Store(_) => CloseCode::Again,
        JoinError::Connect(ConnectError::AlreadyConnected) | JoinError::UnknownGame => {
            CloseCode::Policy
        }
    }
}

/// Tells the client why its frame was refused; the connection and the game go on.
async fn refuse(replies: &mut Replies, reason: String, state: &AppState) -> Result<(), Gone> {
    tracing::debug!(%reason, "frame refused");
    let message = ServerMessage::Error {
        payload: ErrorPayload { reason },
    };
    replies.text(frame(&message), &state.sockets).await
}
