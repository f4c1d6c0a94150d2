//! Apache Cassandra as the store (the `scylla` driver): an implementation of the core's
//! [`Store`] port, with its options ([`options`]).
//!
//! The game's rows live in `objects_by_game_id`, the table of protocol.md, unchanged in
//! shape; the game to resume lives in a one-row table of our own, `current_game`, and
//! what our players have beyond that row in two more ([`players`]): their scores (the
//! scoreboard extension) in `scores_by_game_id`, the hashes of their resume tokens in
//! `tokens_by_game_id`. Every statement that touches data is prepared once at connect
//! ([`schema::Statements`]); only the schema set-up (keyspace and tables, created if
//! missing) is plain CQL.
//!
//! Writes: all rows of a game share one partition (`game_id`), so a [`Store::write`]
//! batch goes out as UNLOGGED batches of at most [`ROWS_PER_BATCH`] rows. A
//! single-partition unlogged batch is one mutation for Cassandra: applied atomically,
//! no batch log, one round trip; the chunks (sent concurrently) keep each request
//! under Cassandra's default batch-size warning threshold (5 KiB). Each call stamps its
//! rows with one client-side timestamp ordered by (the game's epoch, a sequence number)
//! ([`epoch`]), so a write that timed out but landed late can never overwrite a newer
//! row of the same object, nor can a write of an owner that another instance fenced off.
//!
//! Expiry: a player's row with [`StoredObject::expires_ms`] (a player who left) is
//! written with the matching TTL, and so are its score and token hash, so Cassandra
//! forgets them by itself, also for games no instance has loaded; a player who comes
//! back first is written again without TTL. `load` reads the TTL left back into
//! `expires_ms`.

mod checkpoint;
mod epoch;
mod forget;
mod history;
mod objects;
pub mod options;
mod players;
mod schema;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures_util::future::try_join_all;
use futures_util::TryStreamExt;
use protocol::Uuid;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::deserialize::row::DeserializeRow;
use scylla::errors::ExecutionError;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use secrecy::ExposeSecret;

use self::objects::{to_object, upsert_values, ObjectRow, UpsertValues};
use self::schema::Statements;
use game_core::clock::now_ms;
use game_core::store::{Checkpoint, GameInfo, HistoryRecord, Store, StoreError, StoredObject};
pub use options::CassandraOptions;

pub use self::schema::{Keyspace, Replication};

/// Rows per unlogged batch: about 100 bytes each, so a batch stays under Cassandra's
/// default `batch_size_warn_threshold` of 5 KiB.
pub const ROWS_PER_BATCH: usize = 40;
/// How long to wait for a node to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take before the driver gives up on it; the store writer
/// then retries with backoff.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the Cassandra store could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no cassandra nodes given")]
    NoNodes,
    #[error("a cassandra username needs a password, and a password a username")]
    HalfCredentials,
    #[error("cannot set up tls with ca file {path}: {reason}")]
    Tls { path: PathBuf, reason: String },
    #[error("cannot connect to cassandra at {nodes}: {reason}")]
    Session { nodes: String, reason: String },
    #[error("cannot set up keyspace {keyspace}: {reason}")]
    Schema { keyspace: String, reason: String },
}

/// The Cassandra store: one driver session (it pools and reconnects by itself) and the
/// prepared statements.
pub struct CassandraStore {
    /// The driver session, shared by every call.
    session: Session,
    /// The statements, prepared against this session's keyspace.
    statements: Statements,
    /// Last write timestamp handed out (microseconds since the epoch), so that every
    /// write call gets a strictly later one than the call before it.
    last_timestamp: AtomicI64,
    /// The statements of `game_epochs`.
    epoch_statements: epoch::EpochStatements,
    /// The epoch this store claimed for each game it writes. A `std` mutex: held for a
    /// map operation, never across an `.await`.
    epochs: std::sync::Mutex<std::collections::HashMap<Uuid, u64>>,
    /// Object writes so far: the sequence part of their timestamps.
    writes: std::sync::atomic::AtomicU64,
    /// The statements of `checkpoints_by_game_id` ([`checkpoint`]).
    checkpoints: checkpoint::CheckpointStatements,
    /// The history's statements ([`history`]).
    history: history::HistoryStatements,
    /// Forgetting games ([`forget`]).
    forgetting: forget::ForgetStatements,
}

impl CassandraStore {
    /// Connects, creates the keyspace (if missing) and the tables (if missing), and
    /// prepares every statement.
    pub async fn connect(options: &CassandraOptions) -> Result<Self, ConnectError> {
        if options.nodes.is_empty() {
            return Err(ConnectError::NoNodes);
        }
        let nodes = options.nodes.join(",");
        let profile = ExecutionProfile::builder()
            .request_timeout(Some(REQUEST_TIMEOUT))
            .build();
        let mut builder = SessionBuilder::new()
            .known_nodes(&options.nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .default_execution_profile_handle(profile.into_handle());
        match (&options.username, &options.password) {
            (Some(user), Some(password)) => builder = builder.user(user, password.expose_secret()),
            (None, None) => {}
            _ => return Err(ConnectError::HalfCredentials),
        }
        if let Some(path) = &options.tls_ca_file {
            let config = tls::client_config(path).map_err(|reason| ConnectError::Tls {
                path: path.clone(),
                reason,
            })?;
            builder = builder.tls_context(Some(config));
        }
        let session = builder.build().await.map_err(|e| ConnectError::Session {
            nodes,
            reason: e.to_string(),
        })?;
        let statements = schema::set_up(&session, &options.keyspace, &options.replication)
            .await
            .map_err(|reason| ConnectError::Schema {
                keyspace: options.keyspace.to_string(),
                reason,
            })?;
        let epoch_statements =
            epoch::set_up(&session, &options.keyspace)
                .await
                .map_err(|reason| ConnectError::Schema {
                    keyspace: options.keyspace.to_string(),
                    reason,
                })?;
        let checkpoints = checkpoint::set_up(&session, &options.keyspace)
            .await
            .map_err(|reason| ConnectError::Schema {
                keyspace: options.keyspace.to_string(),
                reason,
            })?;
        let schema_failed = |reason| ConnectError::Schema {
            keyspace: options.keyspace.to_string(),
            reason,
        };
        let history = history::set_up(&session, &options.keyspace)
            .await
            .map_err(schema_failed)?;
        let forgetting = forget::set_up(&session, &options.keyspace)
            .await
            .map_err(schema_failed)?;
        tracing::info!(nodes = %options.nodes.join(","), keyspace = %options.keyspace, "cassandra store ready");
        Ok(CassandraStore {
            session,
            statements,
            last_timestamp: AtomicI64::new(0),
            epoch_statements,
            epochs: Default::default(),
            writes: Default::default(),
            checkpoints,
            history,
            forgetting,
        })
    }

    /// A write timestamp later than every one handed out before by this store.
    fn next_timestamp(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let previous =
            self.last_timestamp
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                    Some(now.max(last + 1))
                });
        // unwrap: the closure always returns Some, so fetch_update cannot fail
        now.max(previous.unwrap() + 1)
    }

    /// The timestamp of the next write of `game`'s rows: ordered by (epoch, sequence)
    /// once this store claimed the game ([`epoch`]), so that a fenced-off owner's late
    /// write never wins; the wall clock before that (a game nobody claimed has no
    /// owner to fence).
    fn write_timestamp(&self, game: Uuid) -> i64 {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let epoch = self.epochs.lock().unwrap().get(&game).copied();
        match epoch {
            Some(epoch) => epoch::timestamp(epoch, self.writes.fetch_add(1, Ordering::Relaxed)),
            None => self.next_timestamp(),
        }
    }
}

/// One `games_by_deployment` row as read back; name and time may be unset when another
/// client wrote the row.
type GameRow = (
    Uuid,
    Option<String>,
    Option<scylla::value::CqlTimestamp>,
    Option<i64>,
);

fn to_game((id, name, created, played): GameRow) -> GameInfo {
    GameInfo {
        id,
        name: name.unwrap_or_default(),
        created_ms: created.map_or(0, |t| t.0),
        played_ms: played,
    }
}

fn backend(what: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("cassandra {what} failed: {e}"))
}

#[async_trait]
impl Store for CassandraStore {
    async fn current_game(&self) -> Result<Option<Uuid>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.select_current, (schema::CURRENT_KEY,))
            .await
            .map_err(|e| backend("reading the current game", e))?;
        let rows = result
            .into_rows_result()
            .map_err(|e| backend("reading the current game", e))?;
        let row = rows
            .maybe_first_row::<(Option<Uuid>,)>()
            .map_err(|e| backend("reading the current game", e))?;
        Ok(row.and_then(|(game,)| game))
    }

    async fn set_current_game(&self, game: Uuid) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(
                &self.statements.upsert_current,
                (schema::CURRENT_KEY, game, self.next_timestamp()),
            )
            .await
            .map_err(|e| backend("recording the current game", e))?;
        Ok(())
    }

    async fn create_game(&self, game: &GameInfo) -> Result<(), StoreError> {
        let created = scylla::value::CqlTimestamp(game.created_ms);
        self.session
            .execute_unpaged(
                &self.statements.insert_game,
                (schema::CURRENT_KEY, game.id, game.name.as_str(), created),
            )
            .await
            .map_err(|e| backend("recording a game", e))?;
        Ok(())
    }

    async fn games(&self) -> Result<Vec<GameInfo>, StoreError> {
        let mut rows = self
            .session
            .execute_iter(self.statements.select_games.clone(), (schema::CURRENT_KEY,))
            .await
            .map_err(|e| backend("listing the games", e))?
            .rows_stream::<GameRow>()
            .map_err(|e| backend("listing the games", e))?;
        let mut games = Vec::new();
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(|e| backend("listing the games", e))?
        {
            games.push(to_game(row));
        }
        Ok(games)
    }

    async fn game(&self, id: Uuid) -> Result<Option<GameInfo>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.select_game_info, (schema::CURRENT_KEY, id))
            .await
            .map_err(|e| backend("reading a game", e))?;
        let row = result
            .into_rows_result()
            .map_err(|e| backend("reading a game", e))?
            .maybe_first_row::<GameRow>()
            .map_err(|e| backend("reading a game", e))?;
        Ok(row.map(to_game))
    }

    async fn load(&self, game: Uuid) -> Result<Vec<StoredObject>, StoreError> {
        // paged: a game with many players may outgrow one page
        let mut rows = self
            .session
            .execute_iter(self.statements.select_game.clone(), (game,))
            .await
            .map_err(|e| backend("loading the game", e))?
            .rows_stream::<ObjectRow>()
            .map_err(|e| backend("loading the game", e))?;
        let mut objects = Vec::new();
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(|e| backend("loading the game", e))?
        {
            match to_object(row, now_ms()) {
                Ok(object) => objects.push(object),
                // a row some other client wrote half of: skip it, loudly
                Err(reason) => tracing::warn!(%game, reason, "skipping an unusable row"),
            }
        }
        let scores = self.by_player(&self.statements.select_scores, game, "scores");
        let tokens = self.by_player(&self.statements.select_tokens, game, "token hashes");
        let (scores, tokens) = futures_util::join!(scores, tokens);
        players::join(&mut objects, &scores?, &tokens?);
        Ok(objects)
    }

    async fn claim_epoch(&self, game: Uuid, owner: &str) -> Result<u64, StoreError> {
        let epoch = epoch::claim(&self.session, &self.epoch_statements, game, owner)
            .await
            .map_err(|e| backend("claiming the game's epoch", e))?;
        // unwrap: the lock is never held across an await, and nothing panics under it
        self.epochs.lock().unwrap().insert(game, epoch);
        Ok(epoch)
    }

    async fn write(&self, game: Uuid, batch: &[StoredObject]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write_rows(game, batch, self.write_timestamp(game))
            .await
    }

    async fn write_checkpointed(
        &self,
        game: Uuid,
        batch: &[StoredObject],
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        // the rows first: a checkpoint is never stored ahead of them
        let timestamp = self.write_timestamp(game);
        self.write_rows(game, batch, timestamp).await?;
        let (session, statements) = (&self.session, &self.checkpoints);
        checkpoint::record(session, statements, game, checkpoint, timestamp)
            .await
            .map_err(|e| backend("recording the checkpoint", e))
    }

    async fn checkpoint(&self, game: Uuid) -> Result<Option<Checkpoint>, StoreError> {
        checkpoint::read(&self.session, &self.checkpoints, game)
            .await
            .map_err(|e| backend("reading the checkpoint", e))
    }

    async fn append_history(
        &self,
        game: Uuid,
        records: &[HistoryRecord],
        keep: Duration,
    ) -> Result<(), StoreError> {
        history::append(&self.session, &self.history, game, records, keep)
            .await
            .map_err(|e| backend("writing history", e))
    }

    async fn history_snapshot(
        &self,
        game: Uuid,
        at: Option<i64>,
    ) -> Result<Option<HistoryRecord>, StoreError> {
        history::snapshot(&self.session, &self.history, game, at)
            .await
            .map_err(|e| backend("reading a history snapshot", e))
    }

    async fn history_updates(
        &self,
        game: Uuid,
        after: u64,
        since: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        let window = (after, since, to, limit);
        history::updates(&self.session, &self.history, game, window)
            .await
            .map_err(|e| backend("reading history", e))
    }

    async fn history_span(&self, game: Uuid) -> Result<Option<(i64, i64)>, StoreError> {
        history::span(&self.session, &self.history, game)
            .await
            .map_err(|e| backend("reading the history's span", e))
    }

    async fn forget_game(&self, read: &GameInfo) -> Result<bool, StoreError> {
        if self.current_game().await? == Some(read.id) {
            return Ok(false);
        }
        let deleted = forget::delete_record(&self.session, &self.forgetting, read)
            .await
            .map_err(|e| backend("forgetting a game", e))?;
        if deleted {
            // the record is gone (the lobby no longer lists it); the rest follows
            forget::delete_partitions(&self.session, &self.forgetting, read.id)
                .await
                .map_err(|e| backend("deleting a forgotten game's rows", e))?;
            history::forget(&self.session, &self.history, read.id)
                .await
                .map_err(|e| backend("deleting a forgotten game's history", e))?;
        }
        Ok(deleted)
    }

    async fn game_played(&self, game: Uuid, at: i64) -> Result<(), StoreError> {
        forget::played(&self.session, &self.forgetting, game, at)
            .await
            .map_err(|e| backend("recording when a game was played", e))
    }
}

impl CassandraStore {
    /// Upserts `batch` (rows, scores, token hashes) with the write timestamp
    /// `timestamp`; an empty batch writes nothing.
    async fn write_rows(
        &self,
        game: Uuid,
        batch: &[StoredObject],
        timestamp: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let objects: Vec<UpsertValues> = batch
            .iter()
            .map(|object| upsert_values(game, object, timestamp, now))
            .collect();
        let scores = players::score_values(game, batch, timestamp, now);
        let tokens = players::token_values(game, batch, timestamp, now);
        let (objects, scores, tokens) = futures_util::join!(
            self.upsert(&self.statements.upsert_object, &objects),
            self.upsert(&self.statements.upsert_score, &scores),
            self.upsert(&self.statements.upsert_token, &tokens),
        );
        objects.map_err(|e| backend("writing", e))?;
        scores.map_err(|e| backend("writing scores", e))?;
        tokens.map_err(|e| backend("writing token hashes", e))?;
        Ok(())
    }

    /// Sends `rows` through `statement` as single-partition unlogged batches of at most
    /// [`ROWS_PER_BATCH`], concurrently.
    async fn upsert<V: SerializeRow + Sync>(
        &self,
        statement: &PreparedStatement,
        rows: &[V],
    ) -> Result<(), ExecutionError> {
        let batches = rows.chunks(ROWS_PER_BATCH).map(|chunk| {
            let mut batch = Batch::new(BatchType::Unlogged);
            // idempotent: the rows carry their timestamp, so the driver may retry them
            batch.set_is_idempotent(true);
            for _ in chunk {
                batch.append_statement(statement.clone());
            }
            async move { self.session.batch(&batch, chunk).await }
        });
        try_join_all(batches).await.map(drop)
    }

    /// One value per player of `game` from one of our tables (`statement` selects
    /// `player_id` and the value), by player id.
    async fn by_player<T>(
        &self,
        statement: &PreparedStatement,
        game: Uuid,
        what: &str,
    ) -> Result<HashMap<Uuid, T>, StoreError>
    where
        (Uuid, T): for<'f, 'm> DeserializeRow<'f, 'm>,
    {
        let failed = |e: &dyn fmt::Display| backend(&format!("loading the {what}"), e);
        let mut rows = self
            .session
            .execute_iter(statement.clone(), (game,))
            .await
            .map_err(|e| failed(&e))?
            .rows_stream::<(Uuid, T)>()
            .map_err(|e| failed(&e))?;
        let mut values = HashMap::new();
        while let Some((player, value)) = rows.try_next().await.map_err(|e| failed(&e))? {
            values.insert(player, value);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests;
