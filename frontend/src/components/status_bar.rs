//! The status bar: the connection, the last frame sent and the last frame received.

use yew::prelude::*;

use super::use_game;
use crate::state::link::Status;

#[function_component]
pub fn StatusBar() -> Html {
    let game = use_game();
    let (class, text) = match game.link.status {
        Status::Offline => ("offline", "offline".to_string()),
        Status::Connecting if game.link.attempts > 0 => ("retrying", "reconnecting…".to_string()),
        Status::Connecting => ("connecting", "connecting…".to_string()),
        Status::Open if !game.link.bus_ok => {
            ("retrying", "connected, world updates delayed".to_string())
        }
        Status::Open => ("open", "connected".to_string()),
        Status::Retrying { delay_ms } => (
            "retrying",
            // whole and tenth seconds by hand: float formatting would add kilobytes of wasm
            format!(
                "{}, retrying in {}.{} s",
                // the server's reason when it gave one (e.g. no room for a new game)
                game.link
                    .closed_because
                    .as_deref()
                    .unwrap_or("connection lost"),
                delay_ms / 1000,
                delay_ms % 1000 / 100
            ),
        ),
    };
    html! {
        <footer class="status" aria-label="status">
            // a live region: screen readers announce the link's changes as they happen
            <span id="link" class={classes!("link", class)} role="status">{text}</span>
            <span class="frame"><b>{"Last sent"}</b><code id="last-sent">{&game.debug.last_sent}</code></span>
            <span class="frame"><b>{"Last received"}</b><code id="last-received">{&game.debug.last_received}</code></span>
        </footer>
    }
}
