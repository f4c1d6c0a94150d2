//! Drapetisca's browser client: a Yew app, built to wasm by trunk and embedded in the
//! server binary.
//!
//! # Layout
//!
//! - [`state`]: the one reducer holding all game state in sub-states (form, link, world
//!   with our predicted moves, chat, outbox, debug), each with its unit tests (native).
//! - [`names`]: the random spider genus that prefills the name field (native).
//! - [`wire`]: the frames' JSON without serde: server frames decoded into the protocol
//!   crate's types, client frames encoded from them (native).
//! - [`gesture`]: which step a swipe on the field means (native).
//! - `browser`: what the page asks the browser for (randomness, its own address).
//! - `net`: the two WebSockets; their callbacks only dispatch actions.
//! - `components`: one component per file, from the root `App` (or `ReplayApp` on a
//!   replay page) down.
//!
//! Only `state`, `names`, `wire` and `gesture` compile natively, so `cargo test -p frontend` tests the
//! reducer without a browser; the rest exists on `wasm32` only.

// natively only the reducer's tests use these modules; the browser uses all of them
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod gesture;
mod names;
mod route;
mod state;
mod wire;

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod components;
#[cfg(target_arch = "wasm32")]
mod net;

#[cfg(target_arch = "wasm32")]
fn main() {
    // a replay page (`/game/{id}/replay`) is a root of its own; every other address plays
    match browser::page_replay() {
        Some((game, at, name)) => {
            let props = components::replay::ReplayProps { game, at, name };
            yew::Renderer::<components::replay::ReplayApp>::with_props(props).render();
        }
        None => {
            yew::Renderer::<components::app::App>::new().render();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the frontend runs in a browser: build it with `cargo xtask dist` or `trunk serve`");
    std::process::exit(1);
}

/// A free-list allocator much smaller than the standard library's dlmalloc (about
/// 3.5 KB less gzipped page); ample for a page that allocates a few small things per frame.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: a wasm32-unknown-unknown page runs this module on one thread only
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
