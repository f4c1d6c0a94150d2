//! Placement in a cluster: the core's [`Placement`] port, where every game runs at its
//! owner. This instance's sockets of a game get the game's gateway, which looks like a
//! room and forwards to the owner, here or elsewhere; the lobby's count of a game's
//! players is the owner's census.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use game_core::directory::Loaded;
use game_core::placement::{Placement, StartError};
use game_core::room::Lease;
use protocol::Uuid;

use super::Cluster;

/// Placement over this instance's part of the cluster.
pub struct ClusterPlacement {
    /// This instance's part of the cluster.
    cluster: Arc<Cluster>,
    /// How long a gateway stays with no socket before it lets go of its lease.
    idle: Duration,
}

impl ClusterPlacement {
    pub fn new(cluster: Arc<Cluster>, idle: Duration) -> Self {
        ClusterPlacement { cluster, idle }
    }
}

#[async_trait]
impl Placement for ClusterPlacement {
    async fn start(&self, game: Uuid, lease: Lease) -> Result<Loaded, StartError> {
        Ok(Loaded {
            handle: self.cluster.gateway(game, lease, self.idle),
            // the lobby counts the owner's census instead
            players: Arc::default(),
        })
    }

    fn players(&self, game: Uuid) -> Option<usize> {
        Some(self.cluster.players(game))
    }

    /// Gateways stop with the cluster ([`Cluster::close`]); hosts when it stops hosting.
    async fn close(&self) {}
}
