//! What the watch view shows in place of the player form: that the page watches, and
//! the way to play the same game.

use yew::prelude::*;

use crate::browser;

#[function_component]
pub fn Watching() -> Html {
    // the play page of the watched game is the watch view's address without `/watch`
    let play =
        browser::page_game().map_or_else(|| "/".to_string(), |(id, _)| format!("/game/{id}"));
    html! {
        <div class="watching" id="watching">
            <span class="badge" role="status">{"Watching"}</span>
            <span class="hint">{"You see the game live; nothing you do here moves a spider."}</span>
            <a id="play-link" class="play-link" href={play}>{"Play this game"}</a>
        </div>
    }
}
