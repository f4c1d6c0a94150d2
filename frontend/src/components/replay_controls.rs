//! A replay's controls: play or pause, the speed, the seek bar over the history, the
//! moment shown (time into the history and the clock), and a link to that moment.

use protocol::Uuid;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_game;
use crate::state::replay::{self, Event, SPEEDS};
use crate::state::Action;

#[derive(Properties, PartialEq)]
pub struct ReplayControlsProps {
    pub game: Uuid,
}

#[function_component]
pub fn ReplayControls(props: &ReplayControlsProps) -> Html {
    let game = use_game();
    let r = &game.replay;
    let send = |event: Event| {
        let dispatch = game.dispatcher();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Replay(event.clone())))
    };
    let (first, last) = r.bounds().unwrap_or((r.at, r.at));
    let on_seek = {
        let dispatch = game.dispatcher();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Ok(t) = input.value().parse::<i64>() {
                dispatch.dispatch(Action::Replay(Event::Seek(t)));
            }
        })
    };
    let speeds = SPEEDS.iter().map(|&speed| {
        html! {
            <button type="button" id={format!("speed-{speed}")} aria-pressed={(r.speed == speed).to_string()}
                onclick={send(Event::Speed(speed))}>{format!("{speed}x")}</button>
        }
    });
    let known = r.bounds().is_some();
    let (toggle, label) = if r.playing {
        (Event::Pause, "Pause")
    } else {
        (Event::Play, "Play")
    };
    let live = r.span.is_some_and(|s| s.live);
    html! {
        <section class="controls replay-controls" aria-label="replay" data-at={r.at.to_string()}
            data-ready={r.ready().to_string()}>
            <div class="replay-row">
                <button type="button" id="replay-play" onclick={send(toggle)} disabled={!known}>{label}</button>
                <div class="speeds" role="group" aria-label="speed">{ for speeds }</div>
            </div>
            <input id="replay-seek" type="range" aria-label="moment" min={first.to_string()}
                max={last.to_string()} step="any" value={r.at.to_string()} oninput={on_seek} disabled={!known} />
            <p class="readout">
                <span id="replay-time">{format!("{} / {}", replay::duration(r.at - first), replay::duration(last - first))}</span>
                if live { {" · "}<span class="badge">{"live"}</span> }
                <br />
                <span id="replay-clock">{replay::clock(r.at)}</span>
            </p>
            <p class="keys">
                <a id="replay-link" href={replay::moment_url(props.game, r.at)}>{"Link to this moment"}</a>
                if r.skipped > 0 { {format!(" · {} lines of history skipped", r.skipped)} }
                if let Some(why) = &r.failed { <span role="alert">{format!(" · {why}")}</span> }
            </p>
        </section>
    }
}
