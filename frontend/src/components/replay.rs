//! The root of a replay page (`/game/{id}/replay?t=MS`): owns the reducer like `App`,
//! and runs the replay's side effects: asking the history's span (now, and again every
//! few seconds: a live game's end grows), fetching each window the replay asks for,
//! the playback timer, and the page's address following the moment shown while paused.
//! What it shows is the play page's field, scoreboard and chat, fed by the replay.

use gloo_timers::callback::{Interval, Timeout};
use protocol::Uuid;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::chat::Chat;
use super::field::Field;
use super::replay_controls::ReplayControls;
use super::scoreboard::Scoreboard;
use super::Game;
use crate::browser;
use crate::state::replay::{self, Event};
use crate::state::{Action, GameState};

/// How often the history's span is asked again.
const SPAN_EVERY_MS: u32 = 5_000;
/// How often time moves on while playing.
const TICK_MS: u32 = 100;
/// The least time between two windows' fetches: with the span's, under the API's
/// default read limit per address (5 a second).
const WINDOW_GAP_MS: u32 = 250;

#[derive(Properties, PartialEq)]
pub struct ReplayProps {
    /// The game replayed.
    pub game: Uuid,
    /// The moment the address asked for (`?t=`).
    pub at: Option<i64>,
    /// The game's name, from the page.
    pub name: Option<String>,
}

/// Fetches `url` and dispatches what `event` makes of its text and whether the server
/// cut it short (`History-Truncated`), or the failure.
fn fetch(game: &Game, url: String, event: impl FnOnce(String, bool) -> Event + 'static) {
    let dispatch = game.dispatcher();
    spawn_local(async move {
        let event = match browser::fetch_text(&url, "history-truncated").await {
            Ok((text, truncated)) => event(text, truncated.as_deref() == Some("true")),
            Err(why) => Event::Failed(why),
        };
        dispatch.dispatch(Action::Replay(event));
    });
}

#[function_component]
pub fn ReplayApp(props: &ReplayProps) -> Html {
    let game = use_reducer(|| {
        GameState::new(browser::random_uuid(), String::new(), browser::own_server())
    });
    let id = props.game;

    {
        let game = game.clone();
        let at = props.at;
        use_effect_with((), move |_| {
            game.dispatch(Action::Replay(Event::Open { game: id, at }));
            let span = move || fetch(&game, replay::span_url(id), |text, _| Event::Span(text));
            span();
            let timer = Interval::new(SPAN_EVERY_MS, span);
            move || drop(timer)
        });
    }
    {
        // each window asked for, at most one per WINDOW_GAP_MS (the API limits reads
        // per address; the replay asks one at a time)
        let handle = game.clone();
        let next_at = use_mut_ref(|| 0f64);
        use_effect_with(game.replay.request, move |request| {
            if let Some(request) = *request {
                let now = js_sys::Date::now();
                let wait = (*next_at.borrow() - now).max(0.0);
                *next_at.borrow_mut() = now + wait + f64::from(WINDOW_GAP_MS);
                let url = request.url(id);
                Timeout::new(wait as u32, move || {
                    fetch(&handle, url, move |text, truncated| Event::Window {
                        request,
                        text,
                        truncated,
                    })
                })
                .forget();
            }
        });
    }
    {
        let dispatch = game.dispatcher();
        use_effect_with(game.replay.playing, move |playing| {
            let timer = playing.then(|| {
                Interval::new(TICK_MS, move || {
                    dispatch.dispatch(Action::Replay(Event::Tick(js_sys::Date::now() as i64)))
                })
            });
            move || drop(timer)
        });
    }
    {
        // while paused, the address is a link to the moment shown
        let paused = (!game.replay.playing && game.replay.ready()).then_some(game.replay.at);
        use_effect_with(paused, move |paused| {
            if let Some(t) = *paused {
                browser::replace_address(&replay::moment_url(id, t));
            }
        });
    }

    let board = if game.replay.showing() {
        html! { <Field /> }
    } else {
        let text = match (&game.replay.failed, game.replay.span) {
            (Some(why), _) => format!("The history could not be loaded: {why}."),
            (None, Some(span)) if span.first_last.is_none() => {
                "Nothing of this game is kept yet.".into()
            }
            _ => "Loading the game's history…".into(),
        };
        html! { <div class="welcome"><p id="replay-message">{text}</p></div> }
    };
    html! {
        <ContextProvider<Game> context={game.clone()}>
            <div class="app replaying">
                <super::sprites::Sprites />
                <header class="top">
                    <super::brand::Brand />
                    <nav class="where" aria-label="games">
                        <a id="to-lobby" href="/">{"← All games"}</a>
                        if let Some(name) = &props.name {
                            <span id="game-title" class="game-title">{name}</span>
                        }
                        <span class="badge">{"replay"}</span>
                        <a id="to-game" href={format!("/game/{id}")}>{"play it"}</a>
                    </nav>
                </header>
                <main class="play">
                    <section class="board" aria-label="game field">{board}</section>
                    <aside class="side">
                        <ReplayControls game={id} />
                        <Scoreboard />
                        <Chat />
                    </aside>
                </main>
            </div>
        </ContextProvider<Game>>
    }
}
