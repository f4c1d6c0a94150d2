//! The page, one component per file. The root [`app::App`] owns the reducer and every
//! side effect (sockets, timers, the keyboard); the others read the state from the
//! [`Game`] context and report intent by dispatching actions.

pub mod app;
pub mod brand;
pub mod chat;
pub mod controls;
pub mod field;
pub mod player_form;
pub mod replay;
pub mod replay_controls;
pub mod scoreboard;
pub mod sprites;
pub mod status_bar;
pub mod watching;

/// The reducer handle every component reads the state from and dispatches to.
pub type Game = yew::UseReducerHandle<crate::state::GameState>;

/// The game context; `App` always provides it, so a missing one is a programming error.
#[yew::hook]
pub fn use_game() -> Game {
    // unwrap: every component is rendered below App's ContextProvider<Game>
    yew::use_context::<Game>().unwrap()
}
