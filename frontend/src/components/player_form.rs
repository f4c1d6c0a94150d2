//! The form at the top: name, player id, server location, Enter and Leave.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_game;
use crate::state::Action;

#[function_component]
pub fn PlayerForm() -> Html {
    let game = use_game();
    let playing = game.in_game();
    let on_name = {
        let dispatch = game.dispatcher();
        Callback::from(move |e: InputEvent| {
            dispatch.dispatch(Action::SetName(
                e.target_unchecked_into::<HtmlInputElement>().value(),
            ))
        })
    };
    let on_server = {
        let dispatch = game.dispatcher();
        Callback::from(move |e: InputEvent| {
            dispatch.dispatch(Action::SetServer(
                e.target_unchecked_into::<HtmlInputElement>().value(),
            ))
        })
    };
    let on_submit = {
        let dispatch = game.dispatcher();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            dispatch.dispatch(Action::Enter);
        })
    };
    let on_leave = {
        let dispatch = game.dispatcher();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Leave))
    };
    html! {
        <form class="player-form" onsubmit={on_submit}>
            <label>
                <span>{"Name"}</span>
                <input id="name" value={game.form.name.clone()} oninput={on_name} disabled={playing}
                    maxlength={protocol::MAX_NAME_CHARS.to_string()} autocomplete="off" required=true />
            </label>
            <label class="server-field">
                <span>{"Server"}</span>
                <input id="server" value={game.form.server.clone()} oninput={on_server}
                    disabled={playing} spellcheck="false" />
            </label>
            <span class="player-id" title="your player id">
                <span>{"Player id"}</span>
                <code>{game.me.to_string()}</code>
            </span>
            <button id="enter" type="submit" disabled={playing}>{"Enter"}</button>
            <button id="leave" type="button" onclick={on_leave} disabled={!playing}>{"Leave"}</button>
        </form>
    }
}
