//! Game epochs in Cassandra: the fencing token of a take-over, and the write
//! timestamps derived from it.
//!
//! `game_epochs` holds one row per game: the current epoch and the instance that
//! claimed it. A claim is a lightweight transaction (`INSERT .. IF NOT EXISTS` for the
//! first, `UPDATE .. IF epoch = e` after), so two instances taking the same game over
//! at once never get the same epoch: one Paxos round per take-over, none per move.
//!
//! Every object row the store writes for a game carries a timestamp that orders by
//! (epoch, sequence) ([`timestamp`]): a write of an owner that was fenced off, landing
//! late, loses to every write of the owner that took over, whatever the clocks say.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::Row;

use super::schema::Keyspace;

/// Above every wall-clock timestamp in microseconds until the 2250s: rows written
/// before epochs existed (with the wall clock) lose to any epoch-stamped write.
const TIMESTAMP_BASE: i64 = 1 << 53;

/// The write timestamp of the `seq`-th write under `epoch`: ordered by epoch, then by
/// sequence. Epochs up to 2^31 and 2^32 writes per epoch fit in an i64.
pub fn timestamp(epoch: u64, seq: u64) -> i64 {
    TIMESTAMP_BASE + ((epoch as i64) << 32) + (seq & 0xffff_ffff) as i64
}

/// The statements of the epoch table, prepared once.
pub struct EpochStatements {
    /// `INSERT .. IF NOT EXISTS`: the first claim.
    first: PreparedStatement,
    /// `UPDATE .. IF epoch = ?`: every later claim.
    next: PreparedStatement,
}

/// Creates `game_epochs` if missing and prepares its statements.
pub async fn set_up(session: &Session, keyspace: &Keyspace) -> Result<EpochStatements, String> {
    session
        .query_unpaged(
            format!(
                "CREATE TABLE IF NOT EXISTS {keyspace}.game_epochs (
                    game_id uuid PRIMARY KEY, epoch bigint, owner text)"
            ),
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    let prepare = |cql: String| async move {
        // a conditional write is not idempotent: the driver must not retry it blindly
        session.prepare(cql).await.map_err(|e| e.to_string())
    };
    Ok(EpochStatements {
        first: prepare(format!(
            "INSERT INTO {keyspace}.game_epochs (game_id, epoch, owner) VALUES (?, 1, ?)
             IF NOT EXISTS"
        ))
        .await?,
        next: prepare(format!(
            "UPDATE {keyspace}.game_epochs SET epoch = ?, owner = ? WHERE game_id = ?
             IF epoch = ?"
        ))
        .await?,
    })
}

/// Claims the next epoch of `game` for `owner`; returns it.
pub async fn claim(
    session: &Session,
    statements: &EpochStatements,
    game: uuid::Uuid,
    owner: &str,
) -> Result<u64, String> {
    let first = session
        .execute_unpaged(&statements.first, (game, owner))
        .await
        .map_err(|e| e.to_string())?;
    let (applied, mut current) = outcome(first)?;
    if applied {
        return Ok(1);
    }
    // a few rounds at most: each failed one means someone else claimed meanwhile
    for _ in 0..16 {
        let seen = current.ok_or("the epoch row has no epoch")?;
        let result = session
            .execute_unpaged(&statements.next, (seen + 1, owner, game, seen))
            .await
            .map_err(|e| e.to_string())?;
        let (applied, now) = outcome(result)?;
        if applied {
            return Ok(seen as u64 + 1);
        }
        current = now;
    }
    Err("the epoch of this game changes too fast to claim".into())
}

/// Reads a lightweight transaction's answer: whether it applied, and the epoch found
/// when it did not.
fn outcome(
    result: scylla::response::query_result::QueryResult,
) -> Result<(bool, Option<i64>), String> {
    let rows = result.into_rows_result().map_err(|e| e.to_string())?;
    let epoch_column = rows.column_specs().iter().position(|c| c.name() == "epoch");
    let row: Row = rows.first_row().map_err(|e| e.to_string())?;
    let applied = row
        .columns
        .first()
        .and_then(|c| c.as_ref())
        .and_then(|v| v.as_boolean())
        .ok_or("a conditional write answered without [applied]")?;
    let epoch = epoch_column
        .and_then(|i| row.columns.get(i))
        .and_then(|c| c.as_ref())
        .and_then(|v| v.as_bigint());
    Ok((applied, epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_order_by_epoch_then_sequence_above_the_wall_clock() {
        let now_micros = 1_800_000_000_000_000i64; // 2027
        assert!(timestamp(0, 0) > now_micros * 4);
        assert!(timestamp(1, 0) > timestamp(0, u32::MAX as u64));
        assert!(timestamp(2, 0) > timestamp(1, 5_000_000));
        assert!(timestamp(2, 1) > timestamp(2, 0));
        assert!(timestamp(1 << 30, u32::MAX as u64) > 0, "no overflow");
    }
}
