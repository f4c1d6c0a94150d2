//! Where games are kept between restarts.
//!
//! [`Store`] is the port; [`embedded`] keeps games in a file under the data
//! directory (the default), and the `store-cassandra` crate in Apache Cassandra. The room never waits
//! for a store: it hands rows to a [`writer::StoreWriter`], which writes them behind
//! the game's back, coalesced per object and retried while the store is away.
//! [`rows::GameRows`] turns a game into rows and back.

pub mod embedded;
pub mod history;
pub mod rows;
pub mod writer;

use async_trait::async_trait;
use protocol::Uuid;
use serde::{Deserialize, Serialize};

use crate::tokens::TokenHash;
pub use history::{HistoryRecord, HISTORY_BUCKET_MS};

/// The kind of a stored object: the `kind` column of `objects_by_game_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Player,
    Brick,
    Food,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Player => "player",
            ObjectKind::Brick => "brick",
            ObjectKind::Food => "food",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "player" => Some(ObjectKind::Player),
            "brick" => Some(ObjectKind::Brick),
            "food" => Some(ObjectKind::Food),
            _ => None,
        }
    }
}

/// One row of `objects_by_game_id` (less the game id, which every call names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    /// Player, brick or food.
    pub kind: ObjectKind,
    /// The player's id, or the brick's or food's own id.
    pub object_id: Uuid,
    /// For players: in the game now. Bricks and food are always active.
    pub active: bool,
    /// Column of the last validated position.
    pub x: i32,
    /// Row of the last validated position.
    pub y: i32,
    /// Hearts shown (players only).
    pub h: bool,
    /// The client's move counter at the last accepted move (players only).
    pub generation: i32,
    /// The displayed name.
    pub name: String,
    /// Food caught in this game (players only; the scoreboard extension). Not a column
    /// of `objects_by_game_id`, which keeps the reference's shape: the Cassandra store
    /// keeps it in `scores_by_game_id`. Absent in older embedded files: 0.
    #[serde(default)]
    pub score: u32,
    /// For a player who left: when its row is to be forgotten, in milliseconds since the
    /// Unix epoch (`--prune-players-after-secs` after it left; sooner when the game
    /// made room for a newcomer). The embedded store drops the row then; Cassandra
    /// writes it with the matching TTL. `None`: kept (bricks, food, players in the
    /// game, rows of older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    /// For a player who bound a resume token: the token's hash (never the token), so
    /// that the binding outlives the room and is forgotten with the row. Not a column
    /// of `objects_by_game_id` either: the Cassandra store keeps it in
    /// `tokens_by_game_id`. `None`: an id without a token (and rows of older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<TokenHash>,
}

impl StoredObject {
    /// The key under which a later row replaces an earlier one.
    pub fn key(&self) -> (ObjectKind, Uuid) {
        (self.kind, self.object_id)
    }

    /// Whether the row is to be forgotten by `now_ms` (milliseconds since the epoch).
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_ms.is_some_and(|at| at <= now_ms)
    }
}

/// What the lobby knows of a game, apart from its board: kept by the store beside the
/// game's objects, so every instance (and a restarted one) lists the same games.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameInfo {
    /// The game's id: the partition key of its objects.
    pub id: Uuid,
    /// The name its creator gave it, cleaned like a player name.
    pub name: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// When it was last played (an update, within a minute), in milliseconds since
    /// the Unix epoch; `None` in records written before this was kept, and for a
    /// game never played. A game not played for `--forget-games-after-secs` (from
    /// this, else from its creation) is forgotten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub played_ms: Option<i64>,
}

impl GameInfo {
    /// When the game was last played, or created if never.
    pub fn last_active_ms(&self) -> i64 {
        self.played_ms
            .unwrap_or(self.created_ms)
            .max(self.created_ms)
    }
}

/// Where a game's stored rows stand on the world topic (a cluster's, see
/// docs/cluster.md): every world frame of the game up to `position` is reflected in
/// the rows stored with it or before it. A take-over replays the world topic from
/// there, however long ago that was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The position of a message on the world topic, as the bus writes it (opaque to
    /// the core).
    pub position: String,
    /// The epoch of the owner that published that message: a frame after it stamped
    /// with an older epoch was fenced off, and counts for nobody.
    pub epoch: u64,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("store data is unreadable: {0}")]
    Corrupt(String),
    #[error("store backend failed: {0}")]
    Backend(String),
}

/// A place that keeps games.
///
/// Implementations must accept the same batch twice (writes are retried) and must let a
/// later write of an object replace an earlier one.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The game this deployment plays, if one was started before.
    async fn current_game(&self) -> Result<Option<Uuid>, StoreError>;
    /// Records `game` as the game to resume after a restart.
    async fn set_current_game(&self, game: Uuid) -> Result<(), StoreError>;
    /// Records a new game (or replaces the record of one with the same id).
    async fn create_game(&self, game: &GameInfo) -> Result<(), StoreError>;
    /// Every game recorded, in no particular order.
    async fn games(&self) -> Result<Vec<GameInfo>, StoreError>;
    /// The record of one game, if there is one.
    async fn game(&self, id: Uuid) -> Result<Option<GameInfo>, StoreError>;
    /// Every object of `game`.
    async fn load(&self, game: Uuid) -> Result<Vec<StoredObject>, StoreError>;
    /// Upserts `batch`; each object's row is replaced whole.
    async fn write(&self, game: Uuid, batch: &[StoredObject]) -> Result<(), StoreError>;
    /// Takes `game` over for instance `owner`: bumps the game's epoch with a
    /// compare-and-set, so that no two take-overs ever get the same epoch, and returns
    /// the new one. A store only one process uses needs no epochs: the default says 1.
    async fn claim_epoch(&self, _game: Uuid, _owner: &str) -> Result<u64, StoreError> {
        Ok(1)
    }
    /// Upserts `batch` as [`Store::write`] does, and once every row of it is written,
    /// records `checkpoint` for `game`: never ahead of the rows it speaks for. A
    /// store only one process uses has no take-overs, so needs no checkpoint: the
    /// default writes the rows alone.
    async fn write_checkpointed(
        &self,
        game: Uuid,
        batch: &[StoredObject],
        _checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        self.write(game, batch).await
    }
    /// The checkpoint last recorded for `game` (`None`: none yet, or a store without
    /// them).
    async fn checkpoint(&self, _game: Uuid) -> Result<Option<Checkpoint>, StoreError> {
        Ok(None)
    }
    /// Makes every completed write durable (called on shutdown).
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    // A game's history (docs/protocol.md, "History"): its updates and snapshots in
    // order of `seq`, kept `keep` from when each was written. The rule of a window
    // (which snapshot, which updates) is `crate::history`'s; a store answers these
    // four questions. A store that keeps no history says so (an error, never a
    // silent loss): the default.

    /// Appends `records` of `game`, in order, each to be kept for `keep`.
    async fn append_history(
        &self,
        _game: Uuid,
        _records: &[HistoryRecord],
        _keep: std::time::Duration,
    ) -> Result<(), StoreError> {
        Err(no_history())
    }
    /// The snapshot of `game` to start a window at: the latest with `t <= at`, or
    /// with `at` `None` the first one kept.
    async fn history_snapshot(
        &self,
        _game: Uuid,
        _at: Option<i64>,
    ) -> Result<Option<HistoryRecord>, StoreError> {
        Err(no_history())
    }
    /// The updates (no snapshots) of `game` with `seq > after` and `t <= to`, in
    /// order, at most `limit`; `since` is the time of the record numbered `after`
    /// (where to start looking).
    async fn history_updates(
        &self,
        _game: Uuid,
        _after: u64,
        _since: i64,
        _to: i64,
        _limit: usize,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        Err(no_history())
    }
    /// The times of the first and last records kept of `game` (`None`: none).
    async fn history_span(&self, _game: Uuid) -> Result<Option<(i64, i64)>, StoreError> {
        Err(no_history())
    }
    /// Drops every record written before `before` (ms since the epoch), of every
    /// game: a store whose rows expire by themselves (a TTL) has nothing to do.
    async fn expire_history(&self, _before: i64) -> Result<(), StoreError> {
        Ok(())
    }
    /// Forgets `game` whole: its record, rows, history and whatever else the store
    /// keeps of it, if its record is still as the caller read it (`game.played_ms`
    /// unchanged: nobody played it since). Returns whether it was forgotten; of
    /// several instances racing, one only gets `true` (a store shared by several
    /// instances makes this a compare-and-set). The current game is never forgotten.
    async fn forget_game(&self, _game: &GameInfo) -> Result<bool, StoreError> {
        Err(StoreError::Backend("this store cannot forget games".into()))
    }
    /// Records that `game` was played at `at` (ms since the epoch), for the rule
    /// that forgets games nobody plays; a later time only ever replaces an earlier.
    async fn game_played(&self, _game: Uuid, _at: i64) -> Result<(), StoreError> {
        Ok(())
    }
}

fn no_history() -> StoreError {
    StoreError::Backend("this store keeps no history".into())
}
