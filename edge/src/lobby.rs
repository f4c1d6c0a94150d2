//! The lobby: where players find, create and join games. Two faces over the registry:
//!
//! - [`page`]: the HTML lobby at `/` and the game pages at `/game/{id}`, for browsers;
//! - [`api`]: the same as JSON at `/api/games`, for programs.
//!
//! Both refuse alike (same status codes, same reasons), and a refusal changes nothing.

mod api;
mod page;

pub(crate) use api::refusal;

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::{guard, web, HttpRequest};

use crate::state::AppState;
use game_core::registry::CreateError;

/// Largest request body accepted when creating a game (a name of at most
/// `MAX_RAW_GAME_NAME_CHARS` characters fits many times over).
const MAX_BODY_BYTES: usize = 4096;

/// Seconds a client over a cap is asked to wait (`Retry-After`): the creation window.
const RETRY_AFTER_SECS: &str = "60";

pub fn configure(cfg: &mut web::ServiceConfig) {
    let get_or_head = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    cfg.service(
        web::resource("/")
            .app_data(page::form_config())
            .route(get_or_head().to(page::lobby))
            .route(web::post().to(page::create)),
    )
    .route("/game/{id}", get_or_head().to(page::game))
    // the watch view is the same page, which reads its mode from the address
    .route("/game/{id}/watch", get_or_head().to(page::game))
    .route("/game/{id}/replay", get_or_head().to(page::game))
    .route("/favicon.svg", get_or_head().to(page::icon))
    .service(
        web::resource("/api/games")
            .app_data(api::json_config())
            .route(web::get().to(api::list))
            .route(web::post().to(api::create)),
    )
    .route("/api/games/{id}", web::get().to(api::one));
}

/// Counts a refused creation in `/metrics` and gives its status: the client's fault
/// (400), too fast (429), or the server's limits (503).
fn refused(e: &CreateError, state: &AppState) -> StatusCode {
    let (status, reason) = match e {
        CreateError::EmptyName | CreateError::NameTooLong => (StatusCode::BAD_REQUEST, "invalid"),
        CreateError::TooMany => (StatusCode::TOO_MANY_REQUESTS, "too_many"),
        CreateError::Full(_) => (StatusCode::SERVICE_UNAVAILABLE, "full"),
        CreateError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store"),
    };
    state.sockets.game_refused(reason);
    status
}

/// Who asks to create a game: the client's address, for the per-address cap; or why
/// nobody may. Another site's page must not create games with its visitors' browsers.
fn creator(req: &HttpRequest, state: &AppState) -> Result<IpAddr, (StatusCode, &'static str)> {
    if !state.guard.origin_allowed(req) {
        state.sockets.game_refused("origin");
        return Err((
            StatusCode::FORBIDDEN,
            "requests from this origin are not allowed",
        ));
    }
    // the peer's address: behind a proxy, every client shares the proxy's quota
    req.peer_addr()
        .map(|a| a.ip())
        .ok_or((StatusCode::BAD_REQUEST, "no client address"))
}
