//! What the test binaries of the server share, instead of `#[path]` includes.
//!
//! - [`app`]: a server in process on a free port with its own data directory, its
//!   settings for each bus and store, and a client that speaks the protocol over real
//!   WebSockets, as a reference client would.
//! - [`one`]: a client of the one socket, as Drapetisca's page plays.
//! - [`cassandra`]: a fresh keyspace per test, and reading the stored rows back.

pub mod app;
pub mod cassandra;
pub mod one;
