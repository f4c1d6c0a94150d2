//! The lobby page at `/` and the game pages at `/game/{id}` (and its replay,
//! `/game/{id}/replay`: the same page, which reads what to show from its address).
//!
//! The lobby is rendered here, on the server, not by the wasm page: it is a list and a
//! form, so it needs no wasm at all (nothing to download before the list shows), and costs the game page
//! nothing (drawn by the wasm page, the lobby weighed 8.8 KB gzipped on a page that was
//! already at its size ceiling). Its form works without script: `POST /` answers with a
//! redirect to the new game's page (303), or with the lobby and the reason (400, 403,
//! 429, 503). A small script (`lobby.js`) keeps the list live by fetching this same page
//! every few seconds and swapping the list, so the markup has one definition, here.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use protocol::Uuid;

use super::api::NewGame;
use super::{creator, refused, MAX_BODY_BYTES, RETRY_AFTER_SECS};
use crate::assets;
use crate::state::AppState;
use game_core::registry::{GameSummary, MAX_RAW_GAME_NAME_CHARS};

/// The lobby's look: the game page's palette, in a few rules of its own.
const STYLE: &str = include_str!("lobby.css");
/// Keeps the list of games live (see the module's comment).
const SCRIPT: &str = include_str!("lobby.js");
/// The game's icon, the same as the game page's (which trunk serves under a hashed name):
/// the lobby names it, so browsers do not ask for a missing `/favicon.ico`.
const ICON: &str = include_str!("../../../frontend/assets/favicon.svg");

/// Bodies of the lobby's form: small; a malformed one gets a page saying so.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|e, _| {
            let response = notice(
                StatusCode::BAD_REQUEST,
                "Not a game",
                &format!("The form could not be read: {e}."),
            );
            actix_web::error::InternalError::from_response(e, response).into()
        })
}

/// `GET /`: the games, and the form to create one.
pub async fn lobby(state: web::Data<AppState>) -> HttpResponse {
    lobby_with(&state, StatusCode::OK, None, "").await
}

/// `POST /` (the form): creates the game and sends the browser to its page.
pub async fn create(
    req: HttpRequest,
    form: web::Form<NewGame>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let from = match creator(&req, &state) {
        Ok(from) => from,
        Err((status, why)) => {
            return notice(status, "Not created", &format!("Not created: {why}."))
        }
    };
    match state.registry.create(&form.name, from).await {
        Ok(game) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, game.path))
            .finish(),
        Err(e) => {
            let status = refused(&e, &state);
            let mut response = lobby_with(&state, status, Some(&e.to_string()), &form.name).await;
            if status != StatusCode::BAD_REQUEST {
                let wait = header::HeaderValue::from_static(RETRY_AFTER_SECS);
                response.headers_mut().insert(header::RETRY_AFTER, wait);
            }
            response
        }
    }
}

/// `GET /favicon.svg`: the icon the lobby's pages name.
pub async fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(ICON)
}

/// `GET /game/{id}` (and `/game/{id}/replay`): the page of that game, or a page saying
/// there is none.
pub async fn game(id: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let no_such_game = || {
        notice(
            StatusCode::NOT_FOUND,
            "No such game",
            "This link does not lead to a game here. Pick one in the lobby, or start one.",
        )
    };
    let Ok(game) = id.parse::<Uuid>() else {
        return no_such_game();
    };
    match state.registry.summary(game).await {
        Ok(Some(summary)) => assets::game_page(&summary.name),
        Ok(None) => no_such_game(),
        Err(e) => {
            tracing::warn!(error = %e, %game, "the game page cannot read the store");
            unavailable()
        }
    }
}

async fn lobby_with(
    state: &AppState,
    status: StatusCode,
    refused: Option<&str>,
    typed: &str,
) -> HttpResponse {
    match state.registry.list().await {
        Ok(games) => html_response(status, render(&games, now_ms(), refused, typed)),
        Err(e) => {
            tracing::warn!(error = %e, "the lobby cannot read the store");
            unavailable()
        }
    }
}

fn unavailable() -> HttpResponse {
    let mut response = notice(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again soon",
        "The games cannot be read now.",
    );
    let wait = header::HeaderValue::from_static("5");
    response.headers_mut().insert(header::RETRY_AFTER, wait);
    response
}

fn html_response(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        // live counts: never shown from a cache
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.into_string())
}

/// The lobby: every listed game with its players and age, the default one marked, and
/// the form, with `refused` (why the last creation was refused) and the name `typed`.
fn render(games: &[GameSummary], now_ms: i64, refused: Option<&str>, typed: &str) -> Markup {
    frame(
        "Drapetisca · games",
        html! {
            section.games aria-labelledby="games-heading" {
                h2 #games-heading { "Games" }
                ul #games {
                    @for game in games {
                        li data-game=(game.id) {
                            a.name href=(game.path) { (game.name) }
                            @if game.default { " " span.badge { "default" } }
                            span.players { (players(game.players)) }
                            span.spectators { (spectators(game.spectators)) }
                            span.age { (age(game.created, now_ms)) }
                            span.actions {
                                a.play href=(game.path) aria-label={ "play " (game.name) } { "play" }
                                " "
                                a.watch href={ (game.path) "/watch" } aria-label={ "watch " (game.name) } { "watch" }
                                " "
                                a.replay href={ (game.path) "/replay" } aria-label={ "replay " (game.name) } { "replay" }
                            }
                        }
                    }
                }
            }
            section.create aria-labelledby="create-heading" {
                h2 #create-heading { "New game" }
                form #create-form method="post" action="/" {
                    label for="game-name" { "Name" }
                    input #game-name name="name" type="text" required
                        maxlength=(MAX_RAW_GAME_NAME_CHARS) autocomplete="off"
                        placeholder="Friday spiders" value=(typed);
                    button #create type="submit" { "Create and play" }
                }
                @if let Some(why) = refused {
                    p #refusal role="alert" { "Not created: " (why) "." }
                }
                p.hint { "Each game has its own link: share it, and friends land right in it." }
            }
            script { (PreEscaped(SCRIPT)) }
        },
    )
}

/// A page with a title, a message and the way back to the lobby.
fn notice(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let page = frame(
        &format!("{title} · Drapetisca"),
        html! {
            section.notice {
                h2 { (title) }
                p { (message) }
                p { a href="/" { "← All games" } }
            }
        },
    );
    html_response(status, page)
}

/// The document around a page's main content.
fn frame(title: &str, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                meta name="description"
                    content="Move your spider, catch flies, chat: a real-time multiplayer game";
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    h1.brand { a href="/" { "Drapetisca" } }
                    p.tagline { "Pick a game, or start one and share its link." }
                }
                main.lobby { (main) }
            }
        }
    }
}

/// "1 player", "3 players".
fn players(count: usize) -> String {
    match count {
        1 => "1 player".into(),
        n => format!("{n} players"),
    }
}

/// "1 watching", "3 watching".
fn spectators(count: usize) -> String {
    format!("{count} watching")
}

/// How long ago a game was created, coarsely: "just now", "5 min ago", "3 h ago",
/// "2 days ago".
fn age(created_ms: i64, now_ms: i64) -> String {
    let minutes = (now_ms - created_ms).max(0) / 60_000;
    match minutes {
        0 => "just now".into(),
        1..=59 => format!("{minutes} min ago"),
        60..=2879 => format!("{} h ago", minutes / 60),
        _ => format!("{} days ago", minutes / 1440),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(name: &str, players: usize, default: bool) -> GameSummary {
        let id = Uuid::from_u128(players as u128 + 1);
        GameSummary {
            id,
            name: name.into(),
            players,
            spectators: players * 10,
            created: 0,
            default,
            path: format!("/game/{id}"),
        }
    }

    #[test]
    fn the_lobby_lists_each_game_with_its_link_players_and_the_default_mark() {
        let games = [game("Spiders", 0, true), game("Friday", 2, false)];
        let page = render(&games, 5 * 60_000, None, "").into_string();
        for game in &games {
            let row = format!(
                r#"<li data-game="{}"><a class="name" href="{}">{}</a>"#,
                game.id, game.path, game.name
            );
            assert!(page.contains(&row), "{row} in {page}");
        }
        for game in &games {
            let replay = format!(
                r#"<a class="replay" href="{}/replay" aria-label="replay {}">replay</a>"#,
                game.path, game.name
            );
            assert!(page.contains(&replay), "{replay} in {page}");
        }
        assert!(page.contains(r#"<span class="players">2 players</span>"#));
        assert!(page.contains(r#"<span class="players">0 players</span>"#));
        // spectators apart, and "watch" beside "play", each game with its own links
        assert!(page.contains(r#"<span class="spectators">20 watching</span>"#));
        for game in &games {
            let play = format!(
                r#"<a class="play" href="{}" aria-label="play {}">play</a>"#,
                game.path, game.name
            );
            let watch = format!(
                r#"<a class="watch" href="{}/watch" aria-label="watch {}">watch</a>"#,
                game.path, game.name
            );
            assert!(page.contains(&play), "{play} in {page}");
            assert!(page.contains(&watch), "{watch} in {page}");
        }
        assert_eq!(page.matches(r#"class="badge""#).count(), 1, "{page}");
        assert!(page.contains("5 min ago"));
        assert!(!page.contains("role=\"alert\""), "no refusal shown: {page}");
    }

    #[test]
    fn names_are_escaped_and_a_refusal_keeps_what_was_typed() {
        let games = [game("<script>alert(1)</script>", 1, false)];
        let page = render(&games, 0, Some("too many games"), "a \"quoted\" <name>").into_string();
        assert!(!page.contains("<script>alert(1)"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            page.contains(r#"value="a &quot;quoted&quot; &lt;name&gt;""#),
            "{page}"
        );
        assert!(page.contains(r#"<p id="refusal" role="alert">Not created: too many games.</p>"#));
        assert!(page.contains("1 player<"));
    }

    #[test]
    fn ages_are_coarse_and_never_negative() {
        let minute = 60_000;
        for (elapsed, text) in [
            (-5 * minute, "just now"),
            (59_999, "just now"),
            (minute, "1 min ago"),
            (59 * minute, "59 min ago"),
            (60 * minute, "1 h ago"),
            (47 * 60 * minute, "47 h ago"),
            (48 * 60 * minute, "2 days ago"),
        ] {
            assert_eq!(age(0, elapsed), text, "{elapsed} ms");
        }
    }
}
