//! The Drapetisca game core: everything a game needs to run, and nothing of how it is
//! reached or where it is kept. It knows no web server, broker or database: those are
//! behind its ports, implemented by the adapter crates (`bus-pulsar`,
//! `store-cassandra`), composed by `cluster` and reached through `edge`.
//!
//! # Layout
//!
//! Listed bottom-up: a module imports only modules above it in this list.
//!
//! - [`clock`]: the wall clock of what outlives a process (creation times, expiries).
//! - [`text`]: names and chat lines from clients, cleaned for everyone to see.
//! - [`tokens`]: resume tokens, which bind a player id to a secret.
//! - [`metrics`]: the latency buckets every histogram of the server shares.
//! - [`store`]: the [`store::Store`] port, the embedded store, game rows, and the
//!   write-behind writer.
//! - [`bus`]: the [`bus::Bus`] port (the world bus), the in-process bus, the local
//!   fan-out to world sockets, the batched stream and WebSocket framing.
//! - [`history`]: every game's history: the writer the rooms hand records to, the
//!   windows the history API reads, and forgetting games nobody plays.
//! - [`hook`]: the [`hook::WorldHook`] port: what an instance stamps on the frames it
//!   publishes and which frames it receives count (fencing, in a cluster).
//! - [`room`]: the one task that owns a game and applies commands in order.
//! - [`spectators`]: who watches which game here, under the caps.
//! - [`directory`]: the running games of this instance, and a room's lease of its place.
//! - [`placement`]: the [`placement::Placement`] port (where a game runs), and its
//!   implementation for one instance.
//! - [`registry`]: the games of this instance as the sockets and the lobby see them:
//!   joining, creating, listing.

pub mod bus;
pub mod clock;
pub mod directory;
pub mod history;
pub mod hook;
pub mod metrics;
pub mod placement;
pub mod registry;
pub mod room;
pub mod spectators;
pub mod store;
pub mod text;
pub mod tokens;

pub use ::rules;
pub use ::rules::game;
