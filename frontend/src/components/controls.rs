//! On-screen controls: arrow buttons, the hearts toggle and the position readout.

use yew::prelude::*;

use super::use_game;
use crate::state::Action;

#[function_component]
pub fn Controls() -> Html {
    let game = use_game();
    let button = |label: &'static str, glyph: &'static str, action: Action| {
        let dispatch = game.dispatcher();
        let onclick = Callback::from(move |_: MouseEvent| dispatch.dispatch(action.clone()));
        html! {
            <button class="pad" type="button" aria-label={label} title={label} {onclick}
                disabled={game.own().is_none()}>{glyph}</button>
        }
    };
    let (max_x, max_y) = (
        game.world.board().width() - 1,
        game.world.board().height() - 1,
    );
    let readout = match game.own() {
        Some(c) => format!("({}, {}) / ({max_x}, {max_y})", c.x, c.y),
        None => format!("(-, -) / ({max_x}, {max_y})"),
    };
    html! {
        <section class="controls" aria-label="controls">
            <div class="who">
                <svg class="who-spider" viewBox="-12 -12 24 24" aria-hidden="true">
                    <use href="#spider" class="spider own" x="-12" y="-12" width="24" height="24" />
                </svg>
                <span class="who-name">{game.form.name.clone()}</span>
            </div>
            <div class="dpad">
                <span />
                { button("move up", "▲", Action::Step { dx: 0, dy: -1 }) }
                <span />
                { button("move left", "◀", Action::Step { dx: -1, dy: 0 }) }
                { button("toggle hearts (H)", "♥", Action::ToggleHearts) }
                { button("move right", "▶", Action::Step { dx: 1, dy: 0 }) }
                <span />
                { button("move down", "▼", Action::Step { dx: 0, dy: 1 }) }
                <span />
            </div>
            <p class="readout"><span class="sr-only">{"Your position: "}</span><span id="position">{readout}</span></p>
            <p class="keys">
                <span class="on-keys">{"Arrow keys move · H hearts"}</span>
                <span class="on-touch">{"Swipe the field or tap the arrows"}</span>
            </p>
        </section>
    }
}
