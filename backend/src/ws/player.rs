//! The player socket: the player's own commands in, direct replies out.

use std::sync::Arc;

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, Session};
use protocol::{server::ErrorPayload, ClientMessage, ServerMessage, Uuid};
use tokio::sync::mpsc;

use super::{close, close_for, send, Gone, Heartbeat};
use crate::app::Shared;
use crate::bus::frame;
use crate::room::Direct;

/// Direct messages a player socket may have queued before it counts as too slow. A brief
/// is one message, however many frames it holds.
const OUTBOX: usize = 64;

/// Serves one player socket until it closes.
pub async fn run(
    player: Uuid,
    mut session: Session,
    mut stream: AggregatedMessageStream,
    shared: Arc<Shared>,
) {
    let (outbox, mut inbox) = mpsc::channel(OUTBOX);
    let conn = match shared.room.connect(player, outbox).await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::info!(%player, reason = %e, "player socket refused");
            let _ = session
                .close(close(CloseCode::Policy, &e.to_string()))
                .await;
            return;
        }
    };
    let metrics = &shared.metrics;
    metrics.player_connected();
    let mut heartbeat = Heartbeat::new();
    // one shutdown future for the socket's whole life, as on the world socket: a new one
    // per turn of the loop would take the shared token's lock twice per frame
    let shutdown = shared.shutdown.cancelled();
    tokio::pin!(shutdown);
    let reason = loop {
        tokio::select! {
            message = stream.recv() => {
                heartbeat.heard();
                match message {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        metrics.frame_in();
                        match ClientMessage::parse(&text) {
                            Ok(message) => {
                                if shared.room.send(player, conn, message).await.is_err() {
                                    break close(CloseCode::Away, "the server is shutting down");
                                }
                            }
                            Err(e) => {
                                metrics.frame_refused();
                                if refuse(&mut session, format!("invalid frame: {e}"), &shared).await.is_err() {
                                    break None;
                                }
                            }
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        metrics.frame_refused();
                        if refuse(&mut session, "binary frames are not part of the protocol".into(), &shared).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
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
                    if send(&mut session, f, metrics).await.is_err() {
                        break None;
                    }
                }
                Some(Direct::Batch(frames)) => {
                    let mut sent = Ok(());
                    for f in frames {
                        sent = send(&mut session, f, metrics).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    if sent.is_err() {
                        break None;
                    }
                }
                // the room let go of this socket: it could not keep up
                None => break close(CloseCode::Policy, "too slow to keep up with the game"),
            },
            _ = heartbeat.tick() => {
                if let Err(reason) = heartbeat.beat(&mut session).await {
                    break reason;
                }
            }
            _ = &mut shutdown => break close(CloseCode::Away, "the server is shutting down"),
        }
    };
    shared.room.disconnect(player, conn).await;
    metrics.player_disconnected();
    let _ = session.close(reason).await;
}

/// Tells the client why its frame was refused; the connection and the game go on.
async fn refuse(session: &mut Session, reason: String, shared: &Shared) -> Result<(), Gone> {
    tracing::debug!(%reason, "frame refused");
    let message = ServerMessage::Error {
        payload: ErrorPayload { reason },
    };
    send(session, frame(&message), &shared.metrics).await
}
