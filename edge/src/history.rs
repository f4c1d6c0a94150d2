//! The history API (docs/protocol.md, "History"): a game's history as JSON Lines, for
//! the replay page and any tool. It reads through the registry (the core's ports), so
//! it answers for any game recorded, live or ended, loaded here or not, on any
//! instance of a cluster.
//!
//! - `GET /api/games/{id}/history?from=MS&to=MS`: `application/jsonl`, one record a
//!   line: the latest snapshot with `t <= from` (without `from`: the first kept), then
//!   every update after it with `t <= to` (without `to`: up to now). At most
//!   [`MAX_UPDATES`] updates: a longer window ends early and says so in the
//!   `History-Truncated: true` header (ask again from the last line's `t`).
//! - `GET /api/games/{id}/history/span`: `{"game","first","last","live"}`.
//!
//! 400 for a bad id or parameter, 404 for no such game, 429 for an address reading
//! too fast (`--history-read-limit`), 503 when the instance serves its most reads at
//! once or the store cannot answer. Refusals are `{"error": ...}` as in the lobby's API.

use std::collections::HashMap;
use std::time::Instant;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use protocol::Uuid;

use crate::guard::reads::ReadRefusal;
use crate::lobby::refusal;
use crate::state::AppState;
use game_core::clock::now_ms;
use game_core::store::StoreError;
use tokio::sync::OwnedSemaphorePermit;

/// Most updates one window holds (after its snapshot): about 100 s of a game of 100
/// players x 2 moves a second, 3 MB.
pub const MAX_UPDATES: usize = 20_000;
/// The content type of a window.
pub const JSON_LINES: &str = "application/jsonl";
/// The header that says a window ended before `to`.
pub const TRUNCATED: &str = "history-truncated";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/games/{id}/history", web::get().to(window))
        .route("/api/games/{id}/history/span", web::get().to(span));
}

/// A window's bounds, as asked.
#[derive(Debug, PartialEq, Eq)]
struct Bounds {
    from: Option<i64>,
    to: Option<i64>,
}

/// Reads `from` and `to` (ms since the epoch, integers) from a query string; other
/// parameters are ignored.
fn bounds(query: &str) -> Result<Bounds, String> {
    let pairs = web::Query::<HashMap<String, String>>::from_query(query)
        .map_err(|e| format!("invalid query: {e}"))?;
    let read = |name: &str| -> Result<Option<i64>, String> {
        pairs
            .get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    format!("{name} must be a time in milliseconds since the Unix epoch, got {v:?}")
                })
            })
            .transpose()
    };
    let (from, to) = (read("from")?, read("to")?);
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(format!("from ({from}) is after to ({to})"));
        }
    }
    Ok(Bounds { from, to })
}

async fn window(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let _permit = match admit(&req, &state) {
        Ok(permit) => permit,
        Err(refusal) => return refusal,
    };
    let Ok(game) = id.parse::<Uuid>() else {
        return refusal(StatusCode::BAD_REQUEST, "the game id must be a UUID");
    };
    let bounds = match bounds(req.query_string()) {
        Ok(bounds) => bounds,
        Err(why) => return refusal(StatusCode::BAD_REQUEST, &why),
    };
    let to = bounds.to.unwrap_or_else(now_ms);
    match state
        .registry
        .history(game, bounds.from, to, MAX_UPDATES)
        .await
    {
        Ok(Some(window)) => {
            let mut body = String::new();
            for record in &window.records {
                body.push_str(&record.line());
                body.push('\n');
            }
            let mut response = HttpResponse::Ok();
            response.content_type(JSON_LINES);
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            if window.truncated {
                response.insert_header((TRUNCATED, "true"));
            }
            response.body(body)
        }
        Ok(None) => refusal(StatusCode::NOT_FOUND, "no such game"),
        Err(e) => store_failed(e),
    }
}

async fn span(req: HttpRequest, id: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let _permit = match admit(&req, &state) {
        Ok(permit) => permit,
        Err(refusal) => return refusal,
    };
    let Ok(game) = id.parse::<Uuid>() else {
        return refusal(StatusCode::BAD_REQUEST, "the game id must be a UUID");
    };
    match state.registry.history_span(game).await {
        Ok(Some(span)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(span),
        Ok(None) => refusal(StatusCode::NOT_FOUND, "no such game"),
        Err(e) => store_failed(e),
    }
}

/// Admits one read under the guard's limits, or the refusal to answer.
fn admit(req: &HttpRequest, state: &AppState) -> Result<OwnedSemaphorePermit, HttpResponse> {
    let Some(address) = req.peer_addr().map(|a| a.ip()) else {
        return Err(refusal(StatusCode::BAD_REQUEST, "no client address"));
    };
    state
        .guard
        .history_reads
        .admit(address, Instant::now())
        .map_err(|refused| {
            let (status, why) = match refused {
                ReadRefusal::TooFast => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many history reads from this address; slow down",
                ),
                ReadRefusal::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "this server serves its most history reads now; try again",
                ),
            };
            let mut response = refusal(status, why);
            let wait = header::HeaderValue::from_static("1");
            response.headers_mut().insert(header::RETRY_AFTER, wait);
            response
        })
}

fn store_failed(e: StoreError) -> HttpResponse {
    tracing::warn!(error = %e, "history cannot be read from the store");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "the history cannot be read now",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_integers_in_order() {
        assert_eq!(
            bounds(""),
            Ok(Bounds {
                from: None,
                to: None
            })
        );
        assert_eq!(
            bounds("from=5&to=7&other=x"),
            Ok(Bounds {
                from: Some(5),
                to: Some(7)
            })
        );
        assert_eq!(
            bounds("to=-3"),
            Ok(Bounds {
                from: None,
                to: Some(-3)
            })
        );
        for bad in [
            "from=x",
            "to=1.5",
            "from=9&to=8",
            "from=",
            "to=99999999999999999999",
        ] {
            assert!(bounds(bad).is_err(), "{bad}");
        }
    }
}
