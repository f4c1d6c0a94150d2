//! The routes, and the HTTP servers that serve them: the game's (sockets, lobby, page,
//! health, and `/metrics` unless it has an address of its own) and, with
//! `--metrics-bind`, one of `/metrics` alone. They take their listeners from outside,
//! so tests bind port 0, and their signals are the caller's: sockets must get close
//! frames before a server stops.

use std::net::TcpListener;

use actix_web::{dev::Server, web, App, HttpResponse, HttpServer};

use crate::state::AppState;
use crate::{assets, history, lobby, ws};

/// The game's server on `listener`; with `public_metrics`, it also serves `/metrics`.
pub fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    public_metrics: bool,
) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(routes)
            .configure(|cfg| {
                if public_metrics {
                    cfg.route("/metrics", web::get().to(serve_metrics));
                }
            })
    })
    // frames are small and must leave at once: without this, Nagle's algorithm
    // holds a frame back while an earlier one is unacknowledged, and the client's
    // delayed ACK turns that into stalls of about 40 ms
    .tcp_nodelay(true)
    .listen(listener)?
    // signals are the caller's: sockets must get close frames before the server stops
    .disable_signals()
    .shutdown_timeout(5)
    .run())
}

/// A server of `/metrics` alone on `listener`.
pub fn serve_metrics_alone(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(serve_metrics))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(1)
    .run())
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/player/{player_id}", web::get().to(ws::player_route))
        .route("/ws/world/{player_id}", web::get().to(ws::world_route))
        .route(
            "/ws/game/{game_id}/player/{player_id}",
            web::get().to(ws::game_player_route),
        )
        .route(
            "/ws/game/{game_id}/world/{player_id}",
            web::get().to(ws::game_world_route),
        )
        // the one socket, an extension for our own clients (docs/protocol.md)
        .route("/ws/one/{player_id}", web::get().to(ws::one::route))
        .route(
            "/ws/game/{game_id}/one/{player_id}",
            web::get().to(ws::one::game_route),
        )
        // spectators, an extension (docs/protocol.md)
        .route("/ws/watch", web::get().to(ws::watch::route))
        .route(
            "/ws/game/{game_id}/watch",
            web::get().to(ws::watch::game_route),
        )
        .configure(lobby::configure)
        .configure(history::configure)
        .route("/healthz", web::get().to(healthz))
        .configure(assets::configure);
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "bus_ok": state.fanout.bus_ok(),
        "games_running": state.registry.running(),
    }))
}

async fn serve_metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
        .body(state.metrics.render())
}
