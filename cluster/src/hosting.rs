//! What every host of this instance shares: where games are loaded from, what rooms
//! run with, where replies and notices go, and how the world topic's tail is read.

use std::sync::Arc;

use bus_pulsar::{Client, PulsarBus};
use game_core::room::RoomDeps;
use game_core::store::Store;
use protocol::Board;

use super::fencing::Fence;
use super::link::Sender;

/// What every host of this instance shares.
#[derive(Clone)]
pub struct Hosting {
    /// This instance's id (recorded as the owner in the store).
    pub instance: String,
    /// Where games are loaded from.
    pub store: Arc<dyn Store>,
    /// What rooms run with: the bus, the store writer, counters, the idle time.
    pub deps: RoomDeps,
    /// Where direct replies go.
    pub link: Sender,
    /// The board of new games.
    pub board: Board,
    /// Stamps this instance's frames with its epochs; learns of newer owners.
    pub fence: Arc<Fence>,
    /// The world bus: take-over markers and the census go on it as notices.
    pub world: Arc<PulsarBus>,
    /// A Pulsar client, to read the world topic's tail at a take-over.
    pub client: Client,
    /// The world topic.
    pub world_topic: String,
    /// Most games this instance starts hosting for new games (`--max-owned-games`);
    /// running games it takes over go above it (see [`super::owned_cap`]).
    pub max_owned_games: usize,
}
