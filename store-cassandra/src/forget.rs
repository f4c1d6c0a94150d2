//! Forgetting a game in Cassandra, and recording when it was played.
//!
//! Both are lightweight transactions on the game's row of `games_by_deployment`:
//! `played` is set only on a row that exists (`IF EXISTS`: a game forgotten meanwhile
//! is not brought back half), and the row is deleted only `IF created = ? AND played =
//! ?` as the caller read it, so of several instances sweeping at once one only deletes
//! it (a second finds no row: `created` no longer matches), and none deletes a game
//! played since it read it. The one that did then deletes the game's partitions in
//! every other table (rows, scores, tokens, checkpoint, epoch, history). Why not a
//! leader or the partition's owner: the row's compare-and-set is exact whoever sweeps,
//! needs no cluster (a single instance on Cassandra sweeps the same way), and costs a
//! Paxos round per game forgotten and per game played a minute.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::Row;

use super::schema::{prepare_idempotent, Keyspace, CURRENT_KEY};
use game_core::store::GameInfo;
use protocol::Uuid;

/// The statements of forgetting, prepared once.
pub struct ForgetStatements {
    played: PreparedStatement,
    delete_game: PreparedStatement,
    /// The game's partition in each table of one partition per game.
    delete_partitions: Vec<PreparedStatement>,
}

pub async fn set_up(session: &Session, keyspace: &Keyspace) -> Result<ForgetStatements, String> {
    let prepare = |cql: String| prepare_idempotent(session, cql);
    let mut delete_partitions = Vec::new();
    for table in [
        "objects_by_game_id",
        "scores_by_game_id",
        "tokens_by_game_id",
        "checkpoints_by_game_id",
        "game_epochs",
    ] {
        delete_partitions
            .push(prepare(format!("DELETE FROM {keyspace}.{table} WHERE game_id = ?")).await?);
    }
    Ok(ForgetStatements {
        played: prepare(format!(
            "UPDATE {keyspace}.games_by_deployment SET played = ?
             WHERE deployment = ? AND game_id = ? IF EXISTS"
        ))
        .await?,
        delete_game: prepare(format!(
            "DELETE FROM {keyspace}.games_by_deployment WHERE deployment = ? AND game_id = ?
             IF created = ? AND played = ?"
        ))
        .await?,
        delete_partitions,
    })
}

/// Records that `game` was played at `at`, if it is recorded.
pub async fn played(
    session: &Session,
    s: &ForgetStatements,
    game: Uuid,
    at: i64,
) -> Result<(), String> {
    session
        .execute_unpaged(&s.played, (at, CURRENT_KEY, game))
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Deletes `game`'s record if it is still as `read`; whether it did. The caller then
/// deletes the rest ([`delete_partitions`]).
pub async fn delete_record(
    session: &Session,
    s: &ForgetStatements,
    read: &GameInfo,
) -> Result<bool, String> {
    let created = scylla::value::CqlTimestamp(read.created_ms);
    let result = session
        .execute_unpaged(
            &s.delete_game,
            (CURRENT_KEY, read.id, created, read.played_ms),
        )
        .await
        .map_err(|e| e.to_string())?;
    let rows = result.into_rows_result().map_err(|e| e.to_string())?;
    let row: Row = rows.first_row().map_err(|e| e.to_string())?;
    row.columns
        .first()
        .and_then(|c| c.as_ref())
        .and_then(|v| v.as_boolean())
        .ok_or_else(|| "a conditional delete answered without [applied]".to_string())
}

/// Deletes `game`'s partition in every table of one partition per game.
pub async fn delete_partitions(
    session: &Session,
    s: &ForgetStatements,
    game: Uuid,
) -> Result<(), String> {
    let deletes = s
        .delete_partitions
        .iter()
        .map(|statement| session.execute_unpaged(statement, (game,)));
    futures_util::future::try_join_all(deletes)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}
