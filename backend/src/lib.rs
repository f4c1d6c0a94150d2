//! The Drapetisca game server.
//!
//! # Layout
//!
//! - [`config`]: settings from flags and `DRAPETISCA_*` environment variables.
//! - [`app`]: builds everything from the settings, serves, shuts down in order.
//! - [`ws`]: the two WebSocket routes; thin, they only parse, forward and write.
//! - [`registry`]: the games of this instance: which exist, which run here, loading and
//!   unloading them.
//! - [`lobby`]: the lobby page at `/`, the game pages, and the JSON API that lists and
//!   creates games.
//! - [`room`]: the one task that owns a game and applies commands in order.
//! - [`game`] and [`rules`]: the game's state as plain data and the rules of
//!   protocol.md as pure functions over it, from the `rules` crate (the page checks its
//!   own moves with the same code); [`store::rows`] converts a game to store rows.
//! - [`bus`]: the world bus (in-process or Apache Pulsar) and the local fan-out.
//! - [`store`]: where games are kept (embedded file or Apache Cassandra), and the
//!   write-behind writer.
//! - [`cluster`]: several instances, one owner per game: forwarding, take-over, fencing.
//! - [`assets`]: the game page.
//! - [`metrics`]: counters for `GET /metrics`.
//! - [`telemetry`]: logging set-up.
//! - [`text`]: names and chat lines from clients, cleaned for everyone to see.
//! - [`tokens`]: resume tokens, which bind a player id to a secret.

pub mod app;
pub mod assets;
pub mod bus;
pub mod cluster;
pub mod config;
pub mod lobby;
pub mod memory;
pub mod metrics;
pub mod registry;
pub mod room;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tokens;
pub mod ws;

pub use ::rules;
pub use ::rules::game;
pub use app::Application;
pub use config::Settings;
