//! The games of this instance: which exist, which run here, starting and letting go of
//! their rooms. The one place that decides where a game runs.
//!
//! Every game is recorded in the store ([`GameInfo`]) and listed by the lobby. A game
//! runs (has a room task) only while someone plays it: the first player socket of a game
//! loads it from the store, and the room lets go after its idle time with no player
//! socket (see [`crate::room`]). The *default* game is the one the reference routes
//! (`/ws/player/{id}`, `/ws/world/{id}`) play: `--game-id`, else the store's current
//! game, else a new one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use protocol::{Board, Uuid, MAX_NAME_CHARS};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::Cluster;
use crate::room::{self, ConnId, ConnectError, Direct, RoomDeps, RoomHandle};
use crate::store::{now_ms, GameInfo, Store, StoreError};
use crate::text::clean;

/// The name of the default game when the store has none for it.
pub const DEFAULT_GAME_NAME: &str = "Default game";
/// Longest game name accepted before cleaning; longer requests are refused rather than
/// cut, since they are not a person typing a name.
pub const MAX_RAW_GAME_NAME_CHARS: usize = 256;
/// Most games the lobby lists (the most played first).
pub const MAX_LISTED: usize = 200;
/// The owner recorded with the epochs this registry claims (outside a cluster).
const STANDALONE_OWNER: &str = "standalone";

/// How often a player socket tries again when the room it joined was just letting go.
const JOIN_ATTEMPTS: usize = 3;

/// The limits of the registry, from the settings (the idle time is the rooms' own, in
/// [`RoomDeps`]).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most games running on this instance at once (in a cluster: games with player
    /// sockets here, each a gateway to its owner).
    pub max_games: usize,
    /// Most games one client address may create per minute.
    pub creations_per_minute: usize,
}

/// A game as the lobby shows it (the JSON of `GET /api/games`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GameSummary {
    /// The game's id.
    pub id: Uuid,
    /// The name its creator gave, shown in the lobby.
    pub name: String,
    /// Players in the game now (0 when it is not loaded).
    pub players: usize,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created: i64,
    /// Whether this is the game of the reference routes.
    pub default: bool,
    /// The page's address of the game.
    pub path: String,
}

/// Why a player could not join a game.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("no such game")]
    UnknownGame,
    #[error("this server runs the most games it may ({0}); try again later")]
    Full(usize),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the game cannot be loaded now: {0}")]
    Store(#[from] StoreError),
}

/// Why a game could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a game needs a name")]
    EmptyName,
    #[error("a game name has at most {MAX_RAW_GAME_NAME_CHARS} characters")]
    NameTooLong,
    #[error("too many games created from this address; try again in a minute")]
    TooMany,
    #[error("this server runs the most games it may ({0}); try again later")]
    Full(usize),
    #[error("the game cannot be recorded now: {0}")]
    Store(#[from] StoreError),
}

/// A running game.
#[derive(Clone)]
struct Loaded {
    /// Its room: where its player sockets send their commands.
    handle: RoomHandle,
    /// Its active players, kept by the room.
    players: Arc<AtomicUsize>,
}

/// The running games by id. A `std` mutex: held for map operations only, never across
/// an `.await`.
type Directory = Mutex<HashMap<Uuid, Loaded>>;

/// A room's right to its place in the directory; the room gives it back when idle.
pub struct Lease {
    /// The room's game.
    game: Uuid,
    /// The directory (weak: a room never keeps the registry alive).
    directory: Weak<Directory>,
}

impl Lease {
    /// A lease of a room no directory lists (a game hosted for the cluster): it may
    /// always let go when idle.
    pub fn unlisted(game: Uuid) -> Lease {
        Lease {
            game,
            directory: Weak::new(),
        }
    }

    /// Leaves the directory if `quiet()` holds, checked under the directory's lock: no
    /// new player can be handed this room once it said yes. Returns whether it left.
    pub fn release_if(&self, quiet: impl FnOnce() -> bool) -> bool {
        let Some(directory) = self.directory.upgrade() else {
            return true;
        };
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut directory = directory.lock().unwrap();
        if !quiet() {
            return false;
        }
        directory.remove(&self.game);
        true
    }
}

/// The games of this instance.
pub struct Registry {
    /// Where games are kept.
    store: Arc<dyn Store>,
    /// The board every game is played on.
    board: Board,
    /// What rooms are started with; `None` once closed, so no room starts after.
    deps: Mutex<Option<RoomDeps>>,
    /// Idle time and caps, from the settings.
    limits: Limits,
    /// The game of the reference routes.
    default_game: Uuid,
    /// The running games: the one map that says which games run here.
    directory: Arc<Directory>,
    /// Held while a game loads, so one game never gets two rooms.
    loading: tokio::sync::Mutex<()>,
    /// Recent creations per client address, for the per-minute cap.
    creations: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    /// Every room task, awaited on close.
    rooms: TaskTracker,
    /// Stops the rooms.
    shutdown: CancellationToken,
    /// With Pulsar and Cassandra: where games run is the cluster's to say; sockets get
    /// the game's gateway, which forwards to the owner, here or elsewhere.
    cluster: Option<Arc<Cluster>>,
}

impl Registry {
    /// Opens the registry on `store`: picks the default game (`wanted`, else the store's
    /// current game, else a new one) and records it.
    pub async fn open(
        store: Arc<dyn Store>,
        board: Board,
        deps: RoomDeps,
        limits: Limits,
        wanted: Option<Uuid>,
        cluster: Option<Arc<Cluster>>,
        shutdown: CancellationToken,
    ) -> Result<Self, StoreError> {
        let default_game = match wanted {
            Some(id) => id,
            None => store.current_game().await?.unwrap_or_else(Uuid::new_v4),
        };
        if store.game(default_game).await?.is_none() {
            store
                .create_game(&GameInfo {
                    id: default_game,
                    name: DEFAULT_GAME_NAME.into(),
                    created_ms: now_ms(),
                })
                .await?;
        }
        store.set_current_game(default_game).await?;
        Ok(Registry {
            store,
            board,
            deps: Mutex::new(Some(deps)),
            limits,
            default_game,
            directory: Arc::default(),
            loading: tokio::sync::Mutex::new(()),
            creations: Mutex::default(),
            rooms: TaskTracker::new(),
            shutdown,
            cluster,
        })
    }

    /// The game of the reference routes.
    pub fn default_game(&self) -> Uuid {
        self.default_game
    }

    /// How many games run here now (in a cluster: have player sockets here).
    pub fn running(&self) -> usize {
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.directory.lock().unwrap().len()
    }

    /// Whether `game` exists (runs here, or is recorded in the store).
    pub async fn exists(&self, game: Uuid) -> Result<bool, StoreError> {
        if game == self.default_game || self.loaded(game).is_some() {
            return Ok(true);
        }
        Ok(self.store.game(game).await?.is_some())
    }

    /// Registers a player socket with `game`'s room, loading the game if it does not run.
    pub async fn connect(
        &self,
        game: Uuid,
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
    ) -> Result<(RoomHandle, ConnId), JoinError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let room = self.room(game).await?;
            match room.handle.connect(player, outbox.clone()).await {
                Ok(conn) => return Ok((room.handle, conn)),
                // the room let go between our lookup and our connect: load it again
                Err(ConnectError::Closed)
                    if attempt < JOIN_ATTEMPTS && !self.shutdown.is_cancelled() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Records a new game named `name` for a client at `from`.
    pub async fn create(&self, name: &str, from: IpAddr) -> Result<GameSummary, CreateError> {
        if name.chars().count() > MAX_RAW_GAME_NAME_CHARS {
            return Err(CreateError::NameTooLong);
        }
        let name = clean(name, MAX_NAME_CHARS);
        if name.is_empty() {
            return Err(CreateError::EmptyName);
        }
        if self.running() >= self.limits.max_games {
            return Err(CreateError::Full(self.limits.max_games));
        }
        if !self.may_create(from) {
            return Err(CreateError::TooMany);
        }
        let info = GameInfo {
            id: Uuid::new_v4(),
            name,
            created_ms: now_ms(),
        };
        self.store.create_game(&info).await?;
        tracing::info!(game = %info.id, name = %info.name, %from, "game created");
        Ok(self.summarize(info))
    }

    /// The games to list: the default game first, then the most played, the newest.
    pub async fn list(&self) -> Result<Vec<GameSummary>, StoreError> {
        let mut games: Vec<GameSummary> = self
            .store
            .games()
            .await?
            .into_iter()
            .map(|info| self.summarize(info))
            .collect();
        games.sort_by(|a, b| {
            (b.default, b.players, b.created).cmp(&(a.default, a.players, a.created))
        });
        games.truncate(MAX_LISTED);
        Ok(games)
    }

    /// One game as the lobby shows it.
    pub async fn summary(&self, game: Uuid) -> Result<Option<GameSummary>, StoreError> {
        Ok(self
            .store
            .game(game)
            .await?
            .map(|info| self.summarize(info)))
    }

    /// Waits until every room stopped (after the shutdown token fired), then lets go of
    /// the store writer, so it can drain.
    pub async fn close(&self) {
        self.rooms.close();
        self.rooms.wait().await;
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.deps.lock().unwrap().take();
    }

    fn summarize(&self, info: GameInfo) -> GameSummary {
        let players = match &self.cluster {
            Some(cluster) => cluster.players(info.id),
            None => self
                .loaded(info.id)
                .map_or(0, |l| l.players.load(Ordering::Relaxed)),
        };
        GameSummary {
            path: format!("/game/{}", info.id),
            default: info.id == self.default_game,
            id: info.id,
            name: info.name,
            players,
            created: info.created_ms,
        }
    }

    fn loaded(&self, game: Uuid) -> Option<Loaded> {
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.directory.lock().unwrap().get(&game).cloned()
    }

    /// The room of `game`, started (from the store) if it does not run.
    async fn room(&self, game: Uuid) -> Result<Loaded, JoinError> {
        if let Some(loaded) = self.loaded(game) {
            return Ok(loaded);
        }
        let _loading = self.loading.lock().await;
        if let Some(loaded) = self.loaded(game) {
            return Ok(loaded); // another socket loaded it while we waited
        }
        if self.shutdown.is_cancelled() {
            return Err(ConnectError::Closed.into());
        }
        if self.running() >= self.limits.max_games {
            return Err(JoinError::Full(self.limits.max_games));
        }
        if !self.exists(game).await? {
            return Err(JoinError::UnknownGame);
        }
        // unwrap: the lock is never held across an await, and nothing panics under it
        let deps = self.deps.lock().unwrap().clone();
        let deps = deps.ok_or(ConnectError::Closed)?;
        let lease = Lease {
            game,
            directory: Arc::downgrade(&self.directory),
        };
        if let Some(cluster) = &self.cluster {
            // the game runs at its owner, maybe here; its sockets here use its gateway,
            // listed like a room and unloaded like one (the lobby's count of players
            // is the owner's census)
            let loaded = Loaded {
                handle: cluster.gateway(game, lease, deps.idle),
                players: Arc::default(),
            };
            // unwrap: as above
            self.directory.lock().unwrap().insert(game, loaded.clone());
            return Ok(loaded);
        }
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
        let loaded = Loaded { handle, players };
        // unwrap: as above
        self.directory.lock().unwrap().insert(game, loaded.clone());
        tracing::info!(%game, fresh, took = ?started.elapsed(), "game loaded");
        Ok(loaded)
    }

    /// Counts a creation from `from`, unless it already made its per-minute share.
    fn may_create(&self, from: IpAddr) -> bool {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut creations = self.creations.lock().unwrap();
        // forget addresses with nothing recent, so the map stays as small as the minute
        creations.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < minute);
            !times.is_empty()
        });
        let times = creations.entry(from).or_default();
        if times.len() >= self.limits.creations_per_minute {
            return false;
        }
        times.push(now);
        true
    }
}
