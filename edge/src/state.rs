//! What every request handler shares: the app state, defined here at the edge and
//! built by whoever composes the server (the `drapetisca` binary, tests).

use std::sync::Arc;

use game_core::bus::Fanout;
use game_core::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::guard::Guard;
use crate::metrics::{Metrics, SocketMetrics};

/// What every request handler shares.
pub struct AppState {
    /// The games: joining, creating, listing; where each runs is placement's to say.
    pub registry: Arc<Registry>,
    /// This instance's world fan-out.
    pub fanout: Fanout,
    /// Every subsystem's figures, written at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The sockets' and the lobby's own figures.
    pub sockets: SocketMetrics,
    /// Fires when the server shuts down; sockets then close with a reason.
    pub shutdown: CancellationToken,
    /// What clients may do: origins, socket caps, frame rates.
    pub guard: Guard,
}
