//! The status bar: the connection, the last frame sent and the last frame received.

use yew::prelude::*;

use super::use_game;
use crate::state::Link;

#[function_component]
pub fn StatusBar() -> Html {
    let game = use_game();
    let (class, text) = match game.link {
        Link::Offline => ("offline", "offline".to_string()),
        Link::Connecting if game.attempts > 0 => ("retrying", "reconnecting…".to_string()),
        Link::Connecting => ("connecting", "connecting…".to_string()),
        Link::Open if !game.bus_ok => ("retrying", "connected, world updates delayed".to_string()),
        Link::Open => ("open", "connected".to_string()),
        Link::Retrying { delay_ms } => (
            "retrying",
            // whole and tenth seconds by hand: float formatting would add kilobytes of wasm
            format!(
                "connection lost, retrying in {}.{} s",
                delay_ms / 1000,
                delay_ms % 1000 / 100
            ),
        ),
    };
    html! {
        <footer class="status" aria-label="status">
            // a live region: screen readers announce the link's changes as they happen
            <span id="link" class={classes!("link", class)} role="status">{text}</span>
            <span class="frame"><b>{"Last sent"}</b><code id="last-sent">{&game.last_sent}</code></span>
            <span class="frame"><b>{"Last received"}</b><code id="last-received">{&game.last_received}</code></span>
        </footer>
    }
}
