//! The world socket: every update from the bus, out to one client.

use std::sync::Arc;
use std::time::Instant;

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, Session};
use protocol::{server::StatusPayload, ServerMessage, Uuid};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::guard::caps::SocketSlot;
use super::guard::rate::{FrameLimiter, Verdict};
use super::{close, close_for, flooding, send, Heartbeat};
use crate::app::Shared;
use crate::bus::{frame, Frame};
use crate::metrics::Metrics;

/// Most frames sent in one go when several are queued, before the socket looks at its
/// other duties (client frames, heartbeat, shutdown) again.
const BURST: usize = 64;

/// Serves one world socket until it closes. The player id only labels logs: the world
/// socket carries the same updates to everyone.
pub async fn run(
    player: Uuid,
    mut session: Session,
    mut stream: AggregatedMessageStream,
    slot: SocketSlot,
    mut updates: broadcast::Receiver<Frame>,
    shared: Arc<Shared>,
) {
    let metrics = &shared.metrics;
    metrics.world_socket_opened();
    let mut heartbeat = Heartbeat::new();
    // the world socket is one-way: every frame a client writes on it is refused
    let mut limiter = FrameLimiter::new(shared.guard.rates, Instant::now());
    let mut ready = Ok(());
    if !shared.fanout.bus_ok() {
        let status = ServerMessage::Status {
            payload: StatusPayload { bus_ok: false },
        };
        ready = send(&mut session, frame(&status), metrics).await;
    }
    // one shutdown future for the socket's whole life: a new one per turn of the loop
    // would take the token's lock, shared by every socket, twice per frame
    let shutdown = shared.shutdown.cancelled();
    tokio::pin!(shutdown);
    let reason = 'serve: loop {
        if ready.is_err() {
            break None;
        }
        tokio::select! {
            update = updates.recv() => match update {
                Ok(f) => {
                    ready = send(&mut session, f, metrics).await;
                    // frames already queued go out without another turn of the select
                    for _ in 0..BURST {
                        if ready.is_err() {
                            break;
                        }
                        match updates.try_recv() {
                            Ok(f) => ready = send(&mut session, f, metrics).await,
                            Err(TryRecvError::Lagged(missed)) => break 'serve too_slow(player, missed, metrics),
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => break too_slow(player, missed, metrics),
                Err(RecvError::Closed) => break close(CloseCode::Away, "the server is shutting down"),
            },
            message = stream.recv() => {
                heartbeat.heard();
                match message {
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break None;
                        }
                    }
                    // the world socket is one-way; what a client writes is ignored, and
                    // a client that keeps writing is closed
                    Some(Ok(AggregatedMessage::Text(_) | AggregatedMessage::Binary(_))) => {
                        metrics.frame_refused();
                        if limiter.refused(Instant::now()) == Verdict::Close {
                            break flooding(&shared, &slot);
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                    Some(Err(e)) => break close_for(&e),
                }
            }
            _ = heartbeat.tick() => {
                if let Err(reason) = heartbeat.beat(&mut session).await {
                    break reason;
                }
            }
            _ = &mut shutdown => break close(CloseCode::Away, "the server is shutting down"),
        }
    };
    metrics.world_socket_closed();
    let _ = session.close(reason).await;
    drop(slot);
}

/// The socket fell more than the fan-out's capacity behind: it is dropped.
fn too_slow(player: Uuid, missed: u64, metrics: &Metrics) -> Option<actix_ws::CloseReason> {
    metrics.socket_queue_drop();
    tracing::warn!(%player, missed, "world socket too slow; dropping it");
    close(CloseCode::Policy, "too slow to keep up with the game")
}
