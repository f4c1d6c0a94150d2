//! The games of this instance as the sockets and the lobby see them: which exist,
//! joining one (starting it through [`Placement`] when it does not run here), creating
//! and listing them.
//!
//! Every game is recorded in the store ([`GameInfo`]) and listed by the lobby. A game
//! runs (has a room task) only while someone plays it: the first player socket of a game
//! loads it from the store, and the room lets go after its idle time with no player
//! socket (see [`crate::room`]); where it runs is [`Placement`]'s to say. The *default* game is the one the reference routes
//! (`/ws/player/{id}`, `/ws/world/{id}`) play: `--game-id`, else the store's current
//! game, else a new one.

mod creations;
mod history;

pub use history::{Span, LIVE_WITHIN_MS};

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use protocol::{Uuid, MAX_NAME_CHARS};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::directory::{self, Directory, Loaded};
use crate::placement::{Placement, StartError};
use crate::room::{ConnId, ConnectError, Direct, RoomHandle};
use crate::spectators::{SpectatorLimits, Spectators};
use crate::store::{GameInfo, Store, StoreError};
use crate::text::clean;
use creations::Creations;

/// The name of the default game when the store has none for it.
pub const DEFAULT_GAME_NAME: &str = "Default game";
/// Longest game name accepted before cleaning; longer requests are refused rather than
/// cut, since they are not a person typing a name.
pub const MAX_RAW_GAME_NAME_CHARS: usize = 256;
/// Most games the lobby lists (the most played first).
pub const MAX_LISTED: usize = 200;
/// How often a player socket tries again when the room it joined was just letting go.
const JOIN_ATTEMPTS: usize = 3;

/// The limits of the registry, from the settings (the idle time is the rooms' own, in
/// [`crate::room::RoomDeps`]).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most games running on this instance at once (in a cluster: games with player
    /// sockets here, each a gateway to its owner).
    pub max_games: usize,
    /// Most games one client address may create per minute.
    pub creations_per_minute: usize,
    /// Most spectators per game and in all, on this instance.
    pub spectators: SpectatorLimits,
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
    /// Spectators of the game now, on this instance (docs/protocol.md, "Spectators").
    pub spectators: usize,
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

impl From<StartError> for JoinError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Connect(e) => JoinError::Connect(e),
            StartError::Store(e) => JoinError::Store(e),
        }
    }
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

/// The games of this instance.
pub struct Registry {
    /// Where games are recorded.
    store: Arc<dyn Store>,
    /// Where games run: starts them for this instance's sockets.
    placement: Arc<dyn Placement>,
    /// Caps, from the settings.
    limits: Limits,
    /// The game of the reference routes.
    default_game: Uuid,
    /// The running games: the one map that says which games run here.
    directory: Arc<Directory>,
    /// Held while a game loads, so one game never gets two rooms.
    loading: tokio::sync::Mutex<()>,
    /// Recent creations per client address, for the per-minute cap.
    creations: Creations,
    /// Fires when the server shuts down: no game starts after.
    shutdown: CancellationToken,
    /// Who watches which game here.
    spectators: Spectators,
}

impl Registry {
    /// Opens the registry on `store`: picks the default game (`wanted`, else the store's
    /// current game, else a new one) and records it.
    pub async fn open(
        store: Arc<dyn Store>,
        placement: Arc<dyn Placement>,
        limits: Limits,
        wanted: Option<Uuid>,
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
                    played_ms: None,
                })
                .await?;
        }
        store.set_current_game(default_game).await?;
        Ok(Registry {
            store,
            placement,
            creations: Creations::new(limits.creations_per_minute),
            spectators: Spectators::new(limits.spectators),
            limits,
            default_game,
            directory: Arc::default(),
            loading: tokio::sync::Mutex::new(()),
            shutdown,
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

    /// This instance's spectators: their seats under the caps, and their counts.
    pub fn spectators(&self) -> &Spectators {
        &self.spectators
    }

    /// Asks `game`'s room for a spectator's brief, sent into `outbox` as one message,
    /// loading the game if it does not run (a spectator needs the board, which only the
    /// room has; in a cluster, the game's owner). The spectator is no player: the room
    /// forgets it once briefed.
    pub async fn watch(&self, game: Uuid, outbox: mpsc::Sender<Direct>) -> Result<(), JoinError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let room = self.room(game).await?;
            match room.handle.watch(outbox.clone()).await {
                Ok(()) => return Ok(()),
                // the room let go between our lookup and our request: load it again
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
        if !self.creations.may_create(from) {
            return Err(CreateError::TooMany);
        }
        let info = GameInfo {
            id: Uuid::new_v4(),
            name,
            created_ms: now_ms(),
            played_ms: None,
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
        self.placement.close().await;
    }

    fn summarize(&self, info: GameInfo) -> GameSummary {
        let players = self.placement.players(info.id).unwrap_or_else(|| {
            self.loaded(info.id)
                .map_or(0, |l| l.players.load(Ordering::Relaxed))
        });
        GameSummary {
            path: format!("/game/{}", info.id),
            default: info.id == self.default_game,
            id: info.id,
            name: info.name,
            players,
            spectators: self.spectators.of_game(info.id),
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
        let loaded = self
            .placement
            .start(game, directory::lease(game, &self.directory))
            .await?;
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.directory.lock().unwrap().insert(game, loaded.clone());
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests;
