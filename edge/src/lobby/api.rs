//! The lobby's JSON API: list games, look one up, create one.
//!
//! - `GET /api/games`: `{"games": [GameSummary, ...]}`, the default game first.
//! - `GET /api/games/{id}`: one [`GameSummary`], or 404.
//! - `POST /api/games` with `{"name": "..."}`: 201 and the new game's [`GameSummary`].
//!
//! Every refusal is a status code and `{"error": "<why>"}`; nothing changes on a refusal.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use protocol::Uuid;
use serde::Deserialize;

use super::{creator, refused, MAX_BODY_BYTES, RETRY_AFTER_SECS};
use crate::state::AppState;
use game_core::registry::GameSummary;
use game_core::store::StoreError;

/// The body of `POST /api/games`.
#[derive(Deserialize)]
pub struct NewGame {
    /// The name to give the game.
    pub name: String,
}

/// Bodies of `POST /api/games`: small, and refused in the API's own words.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|e, _| {
            let response = refusal(StatusCode::BAD_REQUEST, &format!("invalid body: {e}"));
            actix_web::error::InternalError::from_response(e, response).into()
        })
}

pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    match state.registry.list().await {
        Ok(games) => HttpResponse::Ok().json(serde_json::json!({ "games": games })),
        Err(e) => store_failed(e),
    }
}

pub async fn one(id: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let Ok(game) = id.parse::<Uuid>() else {
        return refusal(StatusCode::BAD_REQUEST, "the game id must be a UUID");
    };
    match state.registry.summary(game).await {
        Ok(Some(summary)) => HttpResponse::Ok().json(summary),
        Ok(None) => refusal(StatusCode::NOT_FOUND, "no such game"),
        Err(e) => store_failed(e),
    }
}

pub async fn create(
    req: HttpRequest,
    body: web::Json<NewGame>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let from = match creator(&req, &state) {
        Ok(from) => from,
        Err((status, why)) => return refusal(status, why),
    };
    match state.registry.create(&body.name, from).await {
        Ok(summary) => created(summary),
        Err(e) => {
            let status = refused(&e, &state);
            let mut response = refusal(status, &e.to_string());
            if status != StatusCode::BAD_REQUEST {
                let wait = header::HeaderValue::from_static(RETRY_AFTER_SECS);
                response.headers_mut().insert(header::RETRY_AFTER, wait);
            }
            response
        }
    }
}

fn created(summary: GameSummary) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/games/{}", summary.id)))
        .json(summary)
}

fn store_failed(e: StoreError) -> HttpResponse {
    tracing::warn!(error = %e, "lobby cannot read the store");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "the games cannot be read now",
    )
}

/// A refusal as every JSON API of ours words it: a status and `{"error": why}`.
pub(crate) fn refusal(status: StatusCode, why: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": why }))
}
