//! Drapetisca's HTTP edge: what a browser talks to. It parses, checks and forwards to
//! the game core, and writes back what the core sends; it never learns where a game
//! runs (it asks the registry, which asks placement) nor how games are kept.
//!
//! # Layout
//!
//! Listed bottom-up: a module imports only modules above it in this list.
//!
//! - [`assets`]: the game page's bundle, embedded at build time.
//! - [`metrics`]: the sockets' figures, this process's, and the registry every
//!   subsystem registers its own into, served at `/metrics`.
//! - [`guard`]: what a client may do: origins, socket caps, frame rates, floods.
//! - [`memory`]: hands freed memory back to the system after sockets close.
//! - [`state`]: what every request handler shares (the app state).
//! - [`ws`]: the WebSocket routes.
//! - [`lobby`]: the lobby page at `/`, the game pages, and the JSON API of games.
//! - [`history`]: a game's history as JSON Lines, and its span.
//! - [`server`]: the routes, and the HTTP servers that serve them.

pub mod assets;
pub mod guard;
pub mod history;
pub mod lobby;
pub mod memory;
pub mod metrics;
pub mod server;
pub mod state;
pub mod ws;
