//! Where a game runs: the [`Placement`] port, and [`Local`], its implementation for an
//! instance that runs every game it is asked for. The registry asks placement for a
//! game's room and never learns whether it runs here or elsewhere (`cluster`'s
//! placement hands out a stand-in that forwards to the game's owner).

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use protocol::{Board, Uuid};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::directory::Loaded;
use crate::room::{self, ConnectError, Lease, RoomDeps};
use crate::store::{Store, StoreError};

/// The owner recorded with the epochs a lone instance claims.
const STANDALONE_OWNER: &str = "standalone";

/// Why a game could not be started for this instance's sockets.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the game cannot be loaded now: {0}")]
    Store(#[from] StoreError),
}

/// Decides where a game runs, and starts it there.
#[async_trait]
pub trait Placement: Send + Sync + 'static {
    /// Starts `game` for this instance's player sockets: its room, or a stand-in for
    /// its room elsewhere. The room (or stand-in) gives `lease` back when idle.
    async fn start(&self, game: Uuid, lease: Lease) -> Result<Loaded, StartError>;
    /// `game`'s players as the lobby shows them, where placement knows them better than
    /// this instance's own rooms (across instances); `None`: count the room here.
    fn players(&self, game: Uuid) -> Option<usize>;
    /// Waits until everything it started stopped (after the shutdown token fired), and
    /// lets go of what rooms are started with, so that the store writer can drain.
    async fn close(&self);
}

/// Placement on one instance: every game runs here, loaded from the store.
pub struct Local {
    /// Where games are loaded from.
    store: Arc<dyn Store>,
    /// The board of new games.
    board: Board,
    /// What rooms are started with; `None` once closed, so no room starts after.
    deps: Mutex<Option<RoomDeps>>,
    /// Every room task, awaited on close.
    rooms: TaskTracker,
    /// Stops the rooms.
    shutdown: CancellationToken,
}

impl Local {
    pub fn new(
        store: Arc<dyn Store>,
        board: Board,
        deps: RoomDeps,
        shutdown: CancellationToken,
    ) -> Self {
        Local {
            store,
            board,
            deps: Mutex::new(Some(deps)),
            rooms: TaskTracker::new(),
            shutdown,
        }
    }
}

#[async_trait]
impl Placement for Local {
    async fn start(&self, game: Uuid, lease: Lease) -> Result<Loaded, StartError> {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let deps = self.deps.lock().unwrap().clone();
        let deps = deps.ok_or(ConnectError::Closed)?;
        let started = Instant::now();
        // a new epoch for every load, as a cluster's take-over does: the rows this room
        // writes then win over any an earlier process wrote, whatever the clocks say
        self.store.claim_epoch(game, STANDALONE_OWNER).await?;
        let stored = room::load_game(&*self.store, self.board, game).await?;
        let fresh = stored.fresh;
        let players = Arc::new(AtomicUsize::new(0));
        let (handle, task) = room::spawn(
            stored,
            deps,
            players.clone(),
            lease,
            self.shutdown.child_token(),
        );
        self.rooms.spawn(task);
        tracing::info!(%game, fresh, took = ?started.elapsed(), "game loaded");
        Ok(Loaded { handle, players })
    }

    fn players(&self, _game: Uuid) -> Option<usize> {
        None
    }

    async fn close(&self) {
        self.rooms.close();
        self.rooms.wait().await;
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.deps.lock().unwrap().take();
    }
}
