//! The root: owns the reducer, provides it as context, and runs every side effect:
//! opening and closing the socket, writing queued frames, the retry timer and the
//! keyboard.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::prelude::*;

use super::chat::Chat;
use super::controls::Controls;
use super::field::Field;
use super::player_form::PlayerForm;
use super::scoreboard::Scoreboard;
use super::status_bar::StatusBar;
use super::watching::Watching;
use super::Game;
use crate::net::Connection;
use crate::state::link::Status;
use crate::state::watch::Mode;
use crate::state::{Action, GameState};
use crate::{browser, names};

#[function_component]
pub fn App() -> Html {
    let game = use_reducer(|| {
        GameState::new(
            browser::random_uuid(),
            names::genus(browser::roll()).into(),
            browser::own_server(),
        )
    });
    // which game this page plays, or watches, is fixed by its address
    let here = use_memo((), |_| browser::page_game());
    {
        let dispatch = game.dispatcher();
        use_effect_with((), move |_| {
            if browser::watching() {
                dispatch.dispatch(Action::Watch);
            }
        });
    }
    let watching = game.mode == Mode::Watch;
    let connection: Rc<RefCell<Option<Connection>>> = use_mut_ref(|| None);
    let sent_upto = use_mut_ref(|| 0u64);

    // Write queued frames. Declared before the socket effect so that, on Leave, the
    // `leaving` frame is written before the socket closes.
    {
        let connection = connection.clone();
        let outbox = game.outbox.frames.clone();
        use_effect_with(game.outbox.seq, move |_| {
            let mut upto = sent_upto.borrow_mut();
            if let Some(connection) = connection.borrow().as_ref() {
                for (_, text) in outbox.iter().filter(|(seq, _)| *seq > *upto) {
                    connection.send(text);
                }
            }
            if let Some((seq, _)) = outbox.back() {
                *upto = *seq;
            }
        });
    }

    // Open the socket of each new session; the cleanup closes it.
    {
        let wanted = matches!(game.link.status, Status::Connecting | Status::Open)
            .then_some(game.link.session);
        let server = game.form.server.clone();
        let me = (game.me, watching);
        let playing = here.as_ref().as_ref().map(|(id, _)| *id);
        let after = game.link.resuming;
        let dispatch = game.dispatcher();
        use_effect_with(wanted, move |wanted| {
            if let Some(session) = *wanted {
                match Connection::open(&server, playing, me, after, session, dispatch.clone()) {
                    Ok(opened) => *connection.borrow_mut() = Some(opened),
                    Err(_) => dispatch.dispatch(Action::Dropped {
                        session,
                        reason: None,
                    }),
                }
            }
            move || drop(connection.borrow_mut().take())
        });
    }

    // After a drop, wait out the backoff, then retry if the server answers (a refused
    // socket would log an error in the console), else wait longer. Keyed on the
    // attempts too: waiting the longest delay twice in a row is a new wait.
    {
        let dispatch = game.dispatcher();
        let server = game.form.server.clone();
        use_effect_with(
            (game.link.status, game.link.attempts),
            move |(status, _)| {
                let timer = match *status {
                    Status::Retrying { delay_ms } => Some(Timeout::new(delay_ms, move || {
                        yew::platform::spawn_local(async move {
                            let up = browser::reachable(&server).await;
                            dispatch.dispatch(if up {
                                Action::Retry
                            } else {
                                Action::Unreachable
                            })
                        })
                    })),
                    _ => None,
                };
                move || drop(timer)
            },
        );
    }

    // Arrow keys move, H toggles hearts, anywhere on the page except while typing.
    {
        let dispatch = game.dispatcher();
        use_effect_with((), move |_| {
            let document = gloo_utils_document();
            let options = EventListenerOptions::enable_prevent_default();
            let listener =
                EventListener::new_with_options(&document, "keydown", options, move |event| {
                    let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
                        return;
                    };
                    if key.ctrl_key() || key.meta_key() || key.alt_key() || typing(key) {
                        return;
                    }
                    let action = match key.key().as_str() {
                        "ArrowLeft" => Action::Step { dx: -1, dy: 0 },
                        "ArrowRight" => Action::Step { dx: 1, dy: 0 },
                        "ArrowUp" => Action::Step { dx: 0, dy: -1 },
                        "ArrowDown" => Action::Step { dx: 0, dy: 1 },
                        "h" | "H" => Action::ToggleHearts,
                        _ => return,
                    };
                    key.prevent_default();
                    dispatch.dispatch(action);
                });
            move || drop(listener)
        });
    }

    let playing = game.in_game();
    html! {
        <ContextProvider<Game> context={game}>
            <div class={classes!("app", playing.then_some("playing"))}>
                <super::sprites::Sprites />
                <header class="top">
                    <super::brand::Brand />
                    <nav class="where" aria-label="games">
                        <a id="to-lobby" href="/">{"← All games"}</a>
                        if let Some((_, Some(name))) = here.as_ref() {
                            <span id="game-title" class="game-title">{name}</span>
                        }
                    </nav>
                    if watching { <Watching /> } else { <PlayerForm /> }
                </header>
                <main class="play">
                    <section class="board" aria-label="game field">
                        if playing { <Field /> } else { <Welcome /> }
                    </section>
                    <aside class="side">
                        if !watching { <Controls /> }
                        <Scoreboard />
                        <Chat />
                    </aside>
                </main>
                <StatusBar />
            </div>
        </ContextProvider<Game>>
    }
}

/// Shown instead of the field before entering.
#[function_component]
fn Welcome() -> Html {
    html! {
        <div class="welcome">
            <svg class="welcome-spider" viewBox="-12 -12 24 24" aria-hidden="true">
                <use href="#spider" class="spider own" x="-12" y="-12" width="24" height="24" />
            </svg>
            <p>{"Pick a name and press "}<b>{"Enter"}</b>{" to drop onto the field."}</p>
            <p class="hint">
                <span class="on-keys">{"Arrow keys move, H shows hearts. "}</span>
                <span class="on-touch">{"Swipe the field or tap the arrows to move. "}</span>
                {"Catch the flies, mind the bricks."}
            </p>
        </div>
    }
}

fn gloo_utils_document() -> web_sys::Document {
    // unwrap: this code only runs in a page, which always has a window and a document
    web_sys::window().unwrap().document().unwrap()
}

/// Whether the key went to a text field (the name, the server or the chat line).
fn typing(event: &KeyboardEvent) -> bool {
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA"))
}
