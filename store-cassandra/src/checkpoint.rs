//! Checkpoints in Cassandra: where a game's stored rows stand on a cluster's world
//! topic (`game_core::store::Checkpoint`), so that a take-over replays the topic from
//! there rather than from a fixed window.
//!
//! `checkpoints_by_game_id` is a table of our own (the reference's tables keep their
//! shape): one row per game, the position and the epoch of the owner that published
//! the message there. [`super::CassandraStore`] writes it after the rows it goes with
//! were written, with their timestamp, ordered by (epoch, sequence) like them: a
//! fenced-off owner's checkpoint, landing late, never replaces the new owner's.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

use super::schema::{prepare_idempotent, run, Keyspace};
use game_core::store::Checkpoint;
use protocol::Uuid;

/// The statements of the checkpoint table, prepared once.
pub struct CheckpointStatements {
    /// Records a game's checkpoint with the timestamp of its rows.
    upsert: PreparedStatement,
    /// Reads a game's checkpoint.
    select: PreparedStatement,
}

/// Creates `checkpoints_by_game_id` if missing and prepares its statements.
pub async fn set_up(
    session: &Session,
    keyspace: &Keyspace,
) -> Result<CheckpointStatements, String> {
    run(
        session,
        &format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.checkpoints_by_game_id (
                game_id uuid PRIMARY KEY, position text, epoch bigint)"
        ),
    )
    .await?;
    // the row carries its timestamp: writing it twice is harmless
    let prepare = |cql: String| prepare_idempotent(session, cql);
    Ok(CheckpointStatements {
        upsert: prepare(format!(
            "UPDATE {keyspace}.checkpoints_by_game_id USING TIMESTAMP ?
             SET position = ?, epoch = ? WHERE game_id = ?"
        ))
        .await?,
        select: prepare(format!(
            "SELECT position, epoch FROM {keyspace}.checkpoints_by_game_id WHERE game_id = ?"
        ))
        .await?,
    })
}

/// Records `checkpoint` of `game` with the write timestamp `timestamp`.
pub async fn record(
    session: &Session,
    statements: &CheckpointStatements,
    game: Uuid,
    checkpoint: &Checkpoint,
    timestamp: i64,
) -> Result<(), String> {
    session
        .execute_unpaged(
            &statements.upsert,
            (
                timestamp,
                checkpoint.position.as_str(),
                checkpoint.epoch as i64,
                game,
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The checkpoint of `game`, if one was recorded.
pub async fn read(
    session: &Session,
    statements: &CheckpointStatements,
    game: Uuid,
) -> Result<Option<Checkpoint>, String> {
    let result = session
        .execute_unpaged(&statements.select, (game,))
        .await
        .map_err(|e| e.to_string())?;
    let row = result
        .into_rows_result()
        .map_err(|e| e.to_string())?
        .maybe_first_row::<(Option<String>, Option<i64>)>()
        .map_err(|e| e.to_string())?;
    Ok(match row {
        Some((Some(position), Some(epoch))) => Some(Checkpoint {
            position,
            epoch: epoch.max(0) as u64,
        }),
        _ => None,
    })
}
