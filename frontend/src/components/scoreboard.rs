//! The scoreboard: the players who caught the most flies in this game, and our own
//! count, live (the server's `score` extension; our own catches count at once).

use yew::prelude::*;

use super::use_game;

#[function_component]
pub fn Scoreboard() -> Html {
    let game = use_game();
    let own = game.own_player().map_or(0, |p| p.score);
    let rows = game.world.top_scores().into_iter().map(|(id, p)| {
        let mine = id == game.me;
        html! {
            <li key={id.to_string()} class={classes!(mine.then_some("own"))}>
                <span class="who">{&p.name}</span>
                <span class="score">{p.score}</span>
            </li>
        }
    });
    html! {
        <section class="scoreboard" aria-label="scoreboard">
            <h2>{"Top catchers"}</h2>
            <ol id="scores">{ for rows }</ol>
            // a spectator catches nothing, nor does whoever watches a replay
            if game.mode.sends() && !game.replay.on() {
                <p class="own-score">{"You caught "}<b id="own-score">{own}</b></p>
            }
        </section>
    }
}
