//! Games' history in Cassandra (docs/protocol.md, "History"), in three tables of our
//! own:
//!
//! - `history_by_game_bucket`: every record, partitioned by game and minute
//!   (`PRIMARY KEY ((game_id, bucket), seq, snapshot)`: a snapshot shares the number of
//!   the last update it includes, and sorts after it). A minute of a busy game is a
//!   partition of about 1.5 MB.
//! - `history_buckets_by_game`: which minutes a game has (`PRIMARY KEY (game_id,
//!   bucket)`), so that a span or a window never probes empty minutes.
//! - `history_snapshots_by_game`: each snapshot's time and number (`PRIMARY KEY
//!   (game_id, t)`, a few bytes each), so a seek finds its snapshot with one query.
//!
//! Every row is written with a TTL of the retention (the minute's index row a minute
//! longer), so Cassandra forgets old history by itself; records are written as
//! single-partition unlogged batches, idempotent (a retry rewrites the same rows).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::try_join_all;
use futures_util::TryStreamExt;
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;

use super::schema::{prepare_idempotent, run, Keyspace};
use game_core::store::history::{bucket_of, CLOCK_SKEW_MS};
use game_core::store::{HistoryRecord, HISTORY_BUCKET_MS};
use protocol::Uuid;

/// Records per unlogged batch (snapshots are big: a batch is of one partition, and
/// Cassandra warns past 5 KiB but accepts up to 50 KiB by default).
const RECORDS_PER_BATCH: usize = 20;

/// The history's statements, prepared once, and the minutes already indexed.
pub struct HistoryStatements {
    insert: PreparedStatement,
    insert_bucket: PreparedStatement,
    insert_snapshot: PreparedStatement,
    /// The latest snapshot at or before a time.
    snapshot_before: PreparedStatement,
    /// The first snapshot.
    first_snapshot: PreparedStatement,
    /// A snapshot's record.
    snapshot_record: PreparedStatement,
    /// A game's minutes within a range.
    buckets_between: PreparedStatement,
    first_bucket: PreparedStatement,
    last_bucket: PreparedStatement,
    /// A minute's records after a number.
    records_after: PreparedStatement,
    first_record: PreparedStatement,
    last_record: PreparedStatement,
    delete_bucket: PreparedStatement,
    delete_buckets: PreparedStatement,
    delete_snapshots: PreparedStatement,
    /// The minute each game last had indexed by this store: indexed once per minute.
    indexed: Mutex<HashMap<Uuid, i64>>,
}

/// Creates the history tables if missing and prepares their statements.
pub async fn set_up(session: &Session, keyspace: &Keyspace) -> Result<HistoryStatements, String> {
    for cql in [
        format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.history_by_game_bucket (
                game_id uuid, bucket bigint, seq bigint, snapshot boolean, t bigint, body text,
                PRIMARY KEY ((game_id, bucket), seq, snapshot))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.history_buckets_by_game (
                game_id uuid, bucket bigint, PRIMARY KEY (game_id, bucket))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.history_snapshots_by_game (
                game_id uuid, t bigint, seq bigint, PRIMARY KEY (game_id, t))"
        ),
    ] {
        run(session, &cql).await?;
    }
    let prepare = |cql: String| prepare_idempotent(session, cql);
    let records = format!("{keyspace}.history_by_game_bucket");
    let buckets = format!("{keyspace}.history_buckets_by_game");
    let snapshots = format!("{keyspace}.history_snapshots_by_game");
    Ok(HistoryStatements {
        insert: prepare(format!(
            "INSERT INTO {records} (game_id, bucket, seq, snapshot, t, body) VALUES (?, ?, ?, ?, ?, ?)
             USING TTL ?"
        ))
        .await?,
        insert_bucket: prepare(format!(
            "INSERT INTO {buckets} (game_id, bucket) VALUES (?, ?) USING TTL ?"
        ))
        .await?,
        insert_snapshot: prepare(format!(
            "INSERT INTO {snapshots} (game_id, t, seq) VALUES (?, ?, ?) USING TTL ?"
        ))
        .await?,
        snapshot_before: prepare(format!(
            "SELECT t, seq FROM {snapshots} WHERE game_id = ? AND t <= ? ORDER BY t DESC LIMIT 1"
        ))
        .await?,
        first_snapshot: prepare(format!(
            "SELECT t, seq FROM {snapshots} WHERE game_id = ? ORDER BY t ASC LIMIT 1"
        ))
        .await?,
        snapshot_record: prepare(format!(
            "SELECT seq, t, snapshot, body FROM {records}
             WHERE game_id = ? AND bucket = ? AND seq = ? AND snapshot = true"
        ))
        .await?,
        buckets_between: prepare(format!(
            "SELECT bucket FROM {buckets} WHERE game_id = ? AND bucket >= ? AND bucket <= ?"
        ))
        .await?,
        first_bucket: prepare(format!(
            "SELECT bucket FROM {buckets} WHERE game_id = ? ORDER BY bucket ASC"
        ))
        .await?,
        last_bucket: prepare(format!(
            "SELECT bucket FROM {buckets} WHERE game_id = ? ORDER BY bucket DESC"
        ))
        .await?,
        records_after: {
            let mut statement = prepare(format!(
                "SELECT seq, t, snapshot, body FROM {records}
                 WHERE game_id = ? AND bucket = ? AND seq > ?"
            ))
            .await?;
            // pages of 5 s of a busy game: a seek, which stops past `to`, fetches
            // little more than it needs
            statement.set_page_size(1000);
            statement
        },
        first_record: prepare(format!(
            "SELECT t FROM {records} WHERE game_id = ? AND bucket = ? LIMIT 1"
        ))
        .await?,
        last_record: prepare(format!(
            "SELECT t FROM {records} WHERE game_id = ? AND bucket = ?
             ORDER BY seq DESC, snapshot DESC LIMIT 1"
        ))
        .await?,
        delete_bucket: prepare(format!(
            "DELETE FROM {records} WHERE game_id = ? AND bucket = ?"
        ))
        .await?,
        delete_buckets: prepare(format!("DELETE FROM {buckets} WHERE game_id = ?")).await?,
        delete_snapshots: prepare(format!("DELETE FROM {snapshots} WHERE game_id = ?")).await?,
        indexed: Mutex::default(),
    })
}

/// A TTL in seconds for CQL (at least 1; Cassandra's most is 20 years).
fn ttl(keep: Duration) -> i32 {
    keep.as_secs().clamp(1, 630_720_000) as i32
}

type RecordRow = (i64, i64, bool, String);

fn to_record((seq, t, snapshot, body): RecordRow) -> HistoryRecord {
    HistoryRecord {
        seq: seq.max(0) as u64,
        t,
        snapshot,
        body: body.into(),
    }
}

/// Appends `records` of `game`, each kept for `keep`.
pub async fn append(
    session: &Session,
    s: &HistoryStatements,
    game: Uuid,
    records: &[HistoryRecord],
    keep: Duration,
) -> Result<(), String> {
    let secs = ttl(keep);
    // the minutes not indexed yet by this store (a minute indexed twice is harmless)
    let mut new_buckets: Vec<i64> = Vec::new();
    {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let indexed = s.indexed.lock().unwrap();
        for record in records {
            let bucket = bucket_of(record.t);
            if indexed.get(&game) != Some(&bucket) && !new_buckets.contains(&bucket) {
                new_buckets.push(bucket);
            }
        }
    }
    let index_ttl = ttl(keep + Duration::from_millis(HISTORY_BUCKET_MS as u64));
    let index = new_buckets
        .iter()
        .map(|bucket| session.execute_unpaged(&s.insert_bucket, (game, *bucket, index_ttl)));
    try_join_all(index).await.map_err(|e| e.to_string())?;
    let snapshots = records
        .iter()
        .filter(|r| r.snapshot)
        .map(|r| session.execute_unpaged(&s.insert_snapshot, (game, r.t, r.seq as i64, secs)));
    // group by minute: a batch is one partition
    let mut by_bucket: Vec<(i64, Vec<&HistoryRecord>)> = Vec::new();
    for record in records {
        let bucket = bucket_of(record.t);
        match by_bucket.last_mut() {
            Some((b, group)) if *b == bucket => group.push(record),
            _ => by_bucket.push((bucket, vec![record])),
        }
    }
    let batches = by_bucket.iter().flat_map(|(bucket, group)| {
        group.chunks(RECORDS_PER_BATCH).map(move |chunk| {
            let mut batch = Batch::new(BatchType::Unlogged);
            batch.set_is_idempotent(true);
            let values: Vec<_> = chunk
                .iter()
                .map(|r| {
                    batch.append_statement(s.insert.clone());
                    (
                        game,
                        *bucket,
                        r.seq as i64,
                        r.snapshot,
                        r.t,
                        r.body.to_string(),
                        secs,
                    )
                })
                .collect();
            async move { session.batch(&batch, values).await.map(drop) }
        })
    });
    let (snapshots, batches) = futures_util::join!(try_join_all(snapshots), try_join_all(batches));
    snapshots.map_err(|e| e.to_string())?;
    batches.map_err(|e| e.to_string())?;
    if let Some(last) = new_buckets.iter().max() {
        // unwrap: as above
        s.indexed.lock().unwrap().insert(game, *last);
    }
    Ok(())
}

/// The latest snapshot with `t <= at`, or the first kept.
pub async fn snapshot(
    session: &Session,
    s: &HistoryStatements,
    game: Uuid,
    at: Option<i64>,
) -> Result<Option<HistoryRecord>, String> {
    let found = match at {
        Some(at) => {
            session
                .execute_unpaged(&s.snapshot_before, (game, at))
                .await
        }
        None => session.execute_unpaged(&s.first_snapshot, (game,)).await,
    }
    .map_err(|e| e.to_string())?
    .into_rows_result()
    .map_err(|e| e.to_string())?
    .maybe_first_row::<(i64, i64)>()
    .map_err(|e| e.to_string())?;
    let Some((t, seq)) = found else {
        return Ok(None);
    };
    let row = session
        .execute_unpaged(&s.snapshot_record, (game, bucket_of(t), seq))
        .await
        .map_err(|e| e.to_string())?
        .into_rows_result()
        .map_err(|e| e.to_string())?
        .maybe_first_row::<RecordRow>()
        .map_err(|e| e.to_string())?;
    Ok(row.map(to_record))
}

/// The minutes of `game` from `first` to `last`, in order.
async fn buckets(
    session: &Session,
    s: &HistoryStatements,
    game: Uuid,
    first: i64,
    last: i64,
) -> Result<Vec<i64>, String> {
    let mut rows = session
        .execute_iter(s.buckets_between.clone(), (game, first, last))
        .await
        .map_err(|e| e.to_string())?
        .rows_stream::<(i64,)>()
        .map_err(|e| e.to_string())?;
    let mut buckets = Vec::new();
    while let Some((bucket,)) = rows.try_next().await.map_err(|e| e.to_string())? {
        buckets.push(bucket);
    }
    Ok(buckets)
}

/// The updates with `seq > after` and `t <= to`, from `since`'s minute on.
pub async fn updates(
    session: &Session,
    s: &HistoryStatements,
    game: Uuid,
    (after, since, to, limit): (u64, i64, i64, usize),
) -> Result<Vec<HistoryRecord>, String> {
    let mut out = Vec::new();
    for bucket in buckets(session, s, game, bucket_of(since), bucket_of(to)).await? {
        let mut rows = session
            .execute_iter(s.records_after.clone(), (game, bucket, after as i64))
            .await
            .map_err(|e| e.to_string())?
            .rows_stream::<RecordRow>()
            .map_err(|e| e.to_string())?;
        while let Some(row) = rows.try_next().await.map_err(|e| e.to_string())? {
            let record = to_record(row);
            if record.t > to.saturating_add(CLOCK_SKEW_MS) {
                // the rest is later still (but for a clock's skew): not read at all
                return Ok(out);
            }
            if !record.snapshot && record.t <= to {
                if out.len() == limit {
                    return Ok(out);
                }
                out.push(record);
            }
        }
    }
    Ok(out)
}

/// The times of the first and last records kept of `game`.
pub async fn span(
    session: &Session,
    s: &HistoryStatements,
    game: Uuid,
) -> Result<Option<(i64, i64)>, String> {
    let first = edge(session, game, &s.first_bucket, &s.first_record).await?;
    let last = edge(session, game, &s.last_bucket, &s.last_record).await?;
    Ok(first.zip(last))
}

/// The time of the first record met walking `game`'s minutes in the order of
/// `buckets`, with `record` reading one of a minute (a minute indexed may have expired
/// already: its index row outlives its records by a minute).
async fn edge(
    session: &Session,
    game: Uuid,
    buckets: &PreparedStatement,
    record: &PreparedStatement,
) -> Result<Option<i64>, String> {
    let mut minutes = session
        .execute_iter(buckets.clone(), (game,))
        .await
        .map_err(|e| e.to_string())?
        .rows_stream::<(i64,)>()
        .map_err(|e| e.to_string())?;
    while let Some((bucket,)) = minutes.try_next().await.map_err(|e| e.to_string())? {
        let t = session
            .execute_unpaged(record, (game, bucket))
            .await
            .map_err(|e| e.to_string())?
            .into_rows_result()
            .map_err(|e| e.to_string())?
            .maybe_first_row::<(i64,)>()
            .map_err(|e| e.to_string())?;
        if let Some((t,)) = t {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Deletes every history row of `game`.
pub async fn forget(session: &Session, s: &HistoryStatements, game: Uuid) -> Result<(), String> {
    let all = buckets(session, s, game, i64::MIN, i64::MAX).await?;
    let deletes = all
        .iter()
        .map(|bucket| session.execute_unpaged(&s.delete_bucket, (game, *bucket)));
    try_join_all(deletes).await.map_err(|e| e.to_string())?;
    session
        .execute_unpaged(&s.delete_buckets, (game,))
        .await
        .map_err(|e| e.to_string())?;
    session
        .execute_unpaged(&s.delete_snapshots, (game,))
        .await
        .map_err(|e| e.to_string())?;
    // unwrap: as above
    s.indexed.lock().unwrap().remove(&game);
    Ok(())
}
