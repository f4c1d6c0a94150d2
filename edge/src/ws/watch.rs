//! The spectator socket (docs/protocol.md, "Spectators"): a game's board and its live
//! batched stream, for someone who watches without playing.
//!
//! Nothing of it is new code for a frame: the connection's body is the world socket's
//! outflow on the game's batched ring, exactly as on `/ws/one` (so `?after=N` resumes
//! as there), and the socket task is the world socket's ([`super::world::run`]), which
//! here closes the socket at the first frame the client writes: a spectator sends no
//! moves and no chat. Before that, unless the stream resumed, the task asks the game's
//! room for a brief through the registry (in a cluster the registry's gateway forwards
//! the request to the game's owner, as it forwards a player's `entering`) and writes it
//! as direct replies, one JSON object each, as the one socket writes a player's brief.
//!
//! A spectator holds a seat under two caps (`--max-spectators-per-game`,
//! `--max-spectators`, [`game_core::spectators`]), taken before the upgrade (503 when
//! there is none), and counts under the socket caps like any socket.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use protocol::Uuid;
use tokio::sync::mpsc;

use super::replies::Replies;
use super::world::{self, outflow::Control, ClientFrames};
use super::{close, known_game, player, upgrade_as};
use crate::state::AppState;
use game_core::room::{try_again_later, Direct};
use game_core::spectators::Seat;

/// How long a spectator waits for its brief before it is closed with "try again later"
/// (a cluster's owner that does not answer).
const BRIEF_WAIT: Duration = Duration::from_secs(10);

/// How often a spectator's stream is written at most: what came meanwhile goes out
/// together, in one write. A player needs each batch at once (its next move depends on
/// it); a spectator does not, and 1,000 of them woken for each 10 ms batch cost the
/// players 3.1 ms on their p99 (docs/benchmarks.md, "Spectators").
pub const PACE: Duration = Duration::from_millis(100);

/// What a spectator asks of its socket, in the query of its address.
#[derive(Debug, Default, serde::Deserialize)]
pub struct WatchOptions {
    /// `?after=N`: the number of the last update the client saw; as on the one socket,
    /// the stream resumes after it if this instance still has what came after, and no
    /// brief comes. Anything but a number from 0 to 2^64-1 is refused with 400.
    #[serde(default)]
    pub after: Option<u64>,
}

/// `/ws/watch`: a spectator of the default game.
pub async fn route(
    req: HttpRequest,
    body: web::Payload,
    options: web::Query<WatchOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = state.registry.default_game();
    serve(req, body, game, &options, state)
}

/// `/ws/game/{game_id}/watch`: a spectator of any game.
pub async fn game_route(
    req: HttpRequest,
    body: web::Payload,
    game: web::Path<String>,
    options: web::Query<WatchOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = known_game(&game, &state).await?;
    serve(req, body, game, &options, state)
}

fn serve(
    req: HttpRequest,
    body: web::Payload,
    game: Uuid,
    options: &WatchOptions,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let state = state.into_inner();
    // the spectator caps before the socket caps: a refused spectator holds no socket
    let seat = state.registry.spectators().seat(game).map_err(|refused| {
        tracing::debug!(%game, %refused, "spectator refused");
        actix_web::error::InternalError::from_response(
            refused,
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "60"))
                .body(refused.to_string()),
        )
    })?;
    // a spectator has no player id: the outflow is named by a made-up one
    let socket = upgrade_as(&req, body, Uuid::new_v4(), &state)?.into_outflow(
        game,
        true,
        PACE,
        options.after,
        &state,
    );
    let response = socket.response;
    actix_web::rt::spawn(run(
        game,
        socket.control,
        socket.stream,
        socket.address,
        socket.resumed,
        seat,
        state,
    ));
    Ok(response)
}

/// Serves one spectator until its socket closes: its brief (unless its stream resumed),
/// then the world socket's reading side.
async fn run(
    game: Uuid,
    control: Control,
    stream: actix_ws::AggregatedMessageStream,
    address: IpAddr,
    resumed: bool,
    seat: Seat,
    state: Arc<AppState>,
) {
    if !resumed {
        if let Err(reason) = brief(game, &control, &state).await {
            tracing::info!(%game, ?reason, "spectator not briefed");
            // refused only when a close is queued already
            let _ = control.send(Message::Close(reason));
            return;
        }
    }
    world::run(control, stream, address, ClientFrames::Refused, state).await;
    drop(seat);
}

/// Asks the game's room for the board and writes it; `Err` with the close to send when
/// the game cannot brief now.
async fn brief(game: Uuid, control: &Control, state: &AppState) -> Result<(), Option<CloseReason>> {
    let (outbox, mut inbox) = mpsc::channel(1);
    if let Err(e) = state.registry.watch(game, outbox).await {
        return Err(close(player::refusal_code(&e), &e.to_string()));
    }
    let frames = match tokio::time::timeout(BRIEF_WAIT, inbox.recv()).await {
        Ok(Some(Direct::Batch(frames))) => frames,
        Ok(Some(Direct::Frame(frame))) => vec![frame],
        Ok(Some(Direct::Close(reason))) => {
            // a cluster's owner at its cap asks to come back later (1013)
            let code = if try_again_later(reason) {
                CloseCode::Again
            } else {
                CloseCode::Policy
            };
            return Err(close(code, reason));
        }
        Ok(None) | Err(_) => {
            return Err(close(
                CloseCode::Again,
                "the game did not answer in time; try again later",
            ))
        }
    };
    let mut replies = Replies::Outflow(control.clone());
    for frame in frames {
        replies
            .text(frame, &state.sockets)
            .await
            .map_err(|_| None)?;
    }
    Ok(())
}
