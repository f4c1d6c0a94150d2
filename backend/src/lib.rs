//! The Drapetisca game server, composed: settings from flags and the environment, and
//! the one place that picks the store, the bus and placement and stops them in order.
//!
//! # Layout
//!
//! - [`config`]: settings from flags and `DRAPETISCA_*` environment variables.
//! - [`telemetry`]: logging set-up.
//! - [`app`]: builds everything from the settings, serves, shuts down in order.
//!
//! The layers it composes, bottom-up: `protocol` and `rules`; `game-core` (rooms,
//! registry, placement for one instance, fan-out, store writer, embedded store,
//! in-process bus, the ports); the adapters `bus-pulsar` and `store-cassandra`;
//! `cluster` (placement over Pulsar); `edge` (sockets, guard, lobby, assets, metrics).

pub mod app;
pub mod config;
pub mod telemetry;

pub use app::Application;
pub use config::Settings;
