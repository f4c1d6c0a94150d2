//! The chat: the last ten lines, our own name highlighted, and a line to type in
//! (Enter sends).

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_game;
use crate::browser;
use crate::state::link::Status;
use crate::state::Action;

#[function_component]
pub fn Chat() -> Html {
    let game = use_game();
    let input = use_node_ref();
    let on_submit = {
        let dispatch = game.dispatcher();
        let input = input.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // the draft lives in the input element itself; it is not game state
            if let Some(field) = input.cast::<HtmlInputElement>() {
                let id = browser::random_uuid().to_string();
                dispatch.dispatch(Action::Chat {
                    id,
                    text: field.value(),
                });
                field.set_value("");
            }
        })
    };
    let lines = game.chat.lines.iter().map(|line| {
        let who = classes!(
            "who",
            line.own.then_some("own"),
            line.server.then_some("server")
        );
        html! {
            <li key={line.id.clone()}>
                <span class={who}>{&line.name}</span>
                <span class="text">{&line.text}</span>
            </li>
        }
    });
    let connected = game.link.status == Status::Open;
    html! {
        <section class="chat" aria-label="chat">
            <h2>{"Chat"}</h2>
            // a live region: screen readers read new lines out as they arrive
            <ul class="lines" id="chat-lines" aria-live="polite" aria-relevant="additions">
                { for lines }
            </ul>
            // watching, the chat is read-only; a replay shows what was said, and nobody
            // speaks in it
            if game.mode.sends() && !game.replay.on() {
                <form onsubmit={on_submit}>
                    <input id="chat-input" ref={input} placeholder="say something…" autocomplete="off"
                        maxlength={protocol::MAX_CHAT_CHARS.to_string()} disabled={!connected}
                        aria-label="chat line" />
                    <button type="submit" disabled={!connected}>{"Send"}</button>
                </form>
            }
        </section>
    }
}
