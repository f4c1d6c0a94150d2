//! The one socket (docs/protocol.md, "One socket per player"): a player's commands and
//! its batched world stream on one connection, for our own page and load generator.
//!
//! Nothing of it is new code for a frame: the player socket's task ([`super::player`])
//! reads, checks and forwards the commands exactly as on `/ws/player`, and writes its
//! direct replies into the outflow's queue ([`Replies::Outflow`]); the world socket's
//! outflow ([`super::world::outflow`]) is the connection's response body and writes the
//! game's batches from its ring, exactly as on `/ws/world?batch=true`, and the queued
//! replies between them. The client tells them apart by their shape: every
//! world message is a JSON array (a batch), every direct reply a JSON object.
//!
//! One socket is one place under the caps (one [`super::upgrade`]), one rate limiter
//! (the player task's), one heartbeat and one close.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use protocol::Uuid;

use super::replies::Replies;
use super::{known_game, player, upgrade, OneOptions};
use crate::state::AppState;

/// `/ws/one/{player_id}`: the one socket of a player of the default game.
pub async fn route(
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
    options: web::Query<OneOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = state.registry.default_game();
    serve(req, body, game, &id, &options, state)
}

/// `/ws/game/{game_id}/one/{player_id}`: the one socket of a player of any game.
pub async fn game_route(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<(String, String)>,
    options: web::Query<OneOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = known_game(&path.0, &state).await?;
    serve(req, body, game, &path.1, &options, state)
}

fn serve(
    req: HttpRequest,
    body: web::Payload,
    game: Uuid,
    id: &str,
    options: &OneOptions,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let state = state.into_inner();
    // resumed, the client gets what it missed first, and a brief cut to what it lacks
    let socket = upgrade(&req, body, id, &state)?.into_outflow(
        game,
        true,
        Duration::ZERO,
        options.after,
        &state,
    );
    let brief = if socket.resumed {
        player::Brief::Resumed
    } else {
        player::Brief::Whole
    };
    let response = socket.response;
    actix_web::rt::spawn(async move {
        // counted as both: it carries a player socket's commands and a world stream
        state.sockets.world_socket_opened();
        player::run(
            game,
            socket.player,
            Replies::Outflow(socket.control),
            socket.stream,
            socket.address,
            brief,
            Arc::clone(&state),
        )
        .await;
        state.sockets.world_socket_closed();
    });
    Ok(response)
}
