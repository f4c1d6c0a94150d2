//! What the test binaries of the server share, instead of `#[path]` includes.
//!
//! - [`app`]: a server in process on a free port with its own data directory, its
//!   settings for each bus and store, and a client that speaks the protocol over real
//!   WebSockets, as a reference client would.
//! - [`one`]: a client of the one socket, as Drapetisca's page plays.
//! - [`cassandra`]: a fresh keyspace per test, and reading the stored rows back.
//! - [`netns`]: network namespaces whose packets to Pulsar or Cassandra can be dropped
//!   (the partition tests), with [`binaries`], which builds the processes tests run.

pub mod app;
pub mod binaries;
pub mod cassandra;
pub mod netns;
pub mod one;
pub mod resume;
