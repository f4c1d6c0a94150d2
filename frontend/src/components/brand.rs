//! The game's name and logo, at the top of every page the app draws.

use yew::prelude::*;

#[function_component]
pub fn Brand() -> Html {
    html! {
        <h1 class="brand">
            <svg class="logo" viewBox="-12 -12 24 24" aria-hidden="true">
                <use href="#spider" class="spider own" x="-12" y="-12" width="24" height="24" />
            </svg>
            {"Drapetisca"}
        </h1>
    }
}
