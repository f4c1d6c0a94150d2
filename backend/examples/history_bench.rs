//! What a game's history costs to keep and to seek in (docs/benchmarks.md, "History"):
//! writes an hour of synthetic history of one game (100 players x 2 moves a second:
//! 720,000 updates, a snapshot every 10 s) into each store, then times seeks through
//! the HTTP API of a server started on that store. Not a test: it prints figures.
//!
//! ```text
//! cargo run --release -p drapetisca --example history_bench -- [--stores embedded,cassandra]
//!     [--minutes 60] [--players 100] [--moves-per-sec 2] [--seeks 40]
//!     [--cassandra-data DIR]
//! ```
//!
//! Per store: the bytes an update costs on disk (embedded: the history files;
//! Cassandra: the history tables' SSTables once flushed, LZ4-compressed, from
//! `--cassandra-data`, default `.services/cassandra/data/data`), the time to write the
//! hour (as the history writer does, 4096 records a call), and per seek
//! (`GET /api/games/{id}/history?from=T&to=T` at a random moment: the snapshot before
//! T and the updates up to T) and per seek with 30 s of play after it (`to=T+30000`):
//! p50, p99 and the most, and the bytes of each answer. Uses the Cassandra keyspace
//! `drapetisca_history_bench` (dropped first).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use game_core::clock::now_ms;
use game_core::store::embedded::EmbeddedStore;
use game_core::store::{GameInfo, HistoryRecord, Store};
use protocol::Uuid;
use rand::Rng;
use store_cassandra::{CassandraOptions, CassandraStore};

use drapetisca::Settings;

#[derive(Parser)]
struct Args {
    /// Which stores, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "embedded,cassandra")]
    stores: Vec<String>,
    /// Minutes of history to write
    #[arg(long, default_value_t = 60)]
    minutes: i64,
    /// Players in the game
    #[arg(long, default_value_t = 100)]
    players: u64,
    /// Moves a second per player
    #[arg(long, default_value_t = 2)]
    moves_per_sec: u64,
    /// Seeks timed per kind
    #[arg(long, default_value_t = 40)]
    seeks: usize,
    /// Cassandra's data directory (its SSTables are measured there)
    #[arg(long, default_value = ".services/cassandra/data/data")]
    cassandra_data: PathBuf,
}

const KEYSPACE: &str = "drapetisca_history_bench";
const SNAPSHOT_EVERY_MS: i64 = 10_000;
/// Records per append call: the history writer's round.
const ROUND: usize = 4096;

/// A player's frame as the room publishes it (about 160 bytes).
fn player_frame(player: u64, x: i64, y: i64, generation: u64) -> String {
    format!(
        r#"{{"messageType":"player","playerID":"{}","payload":{{"x":{x},"y":{y},"h":false,"generation":{generation},"name":"player_{player:05}"}}}}"#,
        Uuid::from_u128(player as u128 + 1)
    )
}

/// The game's state as a snapshot: geometry, every player, 22 bricks, 10 food.
fn snapshot_frames(players: u64, step: u64) -> Vec<String> {
    let mut frames =
        vec![r#"{"messageType":"geometry","payload":{"halfSizeX":20,"halfSizeY":12}}"#.to_string()];
    for p in 0..players {
        frames.push(player_frame(
            p,
            (p as i64 + step as i64) % 39 - 19,
            p as i64 % 23 - 11,
            step,
        ));
    }
    for b in 0..22 {
        frames.push(format!(
            r#"{{"messageType":"brick","payload":{{"x":{},"y":{},"name":"brick_{b:04}"}}}}"#,
            b - 11,
            b % 5
        ));
    }
    for f in 0..10 {
        frames.push(format!(
            r#"{{"messageType":"food","foodID":"{}","payload":{{"x":{f},"y":-{f},"name":"food_{f:04}"}}}}"#,
            Uuid::from_u128(1_000_000 + f as u128)
        ));
    }
    frames
}

/// Writes the synthetic hour of `game` into `store`: the updates written and the time
/// it took.
async fn write_hour(store: &dyn Store, game: Uuid, args: &Args, start: i64) -> (usize, Duration) {
    let rate = args.players * args.moves_per_sec;
    let total = (args.minutes * 60) as u64 * rate;
    let keep = Duration::from_secs(7 * 86_400);
    let started = Instant::now();
    let mut records = Vec::with_capacity(ROUND);
    let mut next_snapshot = start;
    let mut seq = 1_000_000u64;
    for n in 0..total {
        let t = start + (n * 1000 / rate) as i64;
        if t >= next_snapshot {
            let frames = snapshot_frames(args.players, n);
            records.push(HistoryRecord::snapshot(
                seq,
                t,
                frames.iter().map(String::as_str),
            ));
            next_snapshot += SNAPSHOT_EVERY_MS;
        }
        seq += 1;
        let player = n % args.players;
        let frame = player_frame(
            player,
            (n % 39) as i64 - 19,
            (n % 23) as i64 - 11,
            n / args.players,
        );
        records.push(HistoryRecord::update(seq, t, frame.into()));
        if records.len() >= ROUND {
            store
                .append_history(game, &records, keep)
                .await
                .expect("append");
            records.clear();
        }
    }
    store
        .append_history(game, &records, keep)
        .await
        .expect("append");
    (total as usize, started.elapsed())
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                dir_bytes(&path)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}

/// Bytes of the SSTables of every table named `history*` of the keyspace.
fn cassandra_history_bytes(data: &Path) -> u64 {
    let Ok(tables) = std::fs::read_dir(data.join(KEYSPACE)) else {
        return 0;
    };
    tables
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("history"))
        .map(|e| dir_bytes(&e.path()))
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Times `seeks` requests of `path(t)` at random moments of the hour.
async fn time_seeks(
    client: &reqwest::Client,
    base: &str,
    start: i64,
    args: &Args,
    after_ms: i64,
) -> (Vec<Duration>, usize) {
    let mut rng = rand::thread_rng();
    let mut took = Vec::new();
    let mut bytes = 0;
    let end = start + args.minutes * 60_000;
    for _ in 0..args.seeks {
        let t = rng.gen_range(start + SNAPSHOT_EVERY_MS..end - after_ms);
        let url = format!("{base}?from={t}&to={}", t + after_ms);
        let began = Instant::now();
        let response = client.get(&url).send().await.expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        let body = response.bytes().await.expect("body");
        took.push(began.elapsed());
        bytes += body.len();
        assert!(body.starts_with(b"{\"seq\":"), "a record first");
        // the history API allows 5 reads a second per address, in bursts of 20
        tokio::time::sleep(Duration::from_millis(210)).await;
    }
    took.sort();
    (took, bytes / args.seeks)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    drapetisca::telemetry::init("warn");
    let args = Args::parse();
    for kind in &args.stores {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings::local(dir.path());
        let store: Arc<dyn Store> = match kind.as_str() {
            "embedded" => Arc::new(EmbeddedStore::open(dir.path())?),
            "cassandra" => {
                let session = scylla::client::session_builder::SessionBuilder::new()
                    .known_node("127.0.0.1:9042")
                    .user("cassandra", "cassandra")
                    .build()
                    .await?;
                session
                    .query_unpaged(format!("DROP KEYSPACE IF EXISTS {KEYSPACE}"), &[])
                    .await?;
                settings.cassandra = CassandraOptions {
                    nodes: vec!["127.0.0.1:9042".into()],
                    keyspace: KEYSPACE.parse().unwrap(),
                    username: Some("cassandra".into()),
                    password: Some("cassandra".into()),
                    ..CassandraOptions::default()
                };
                Arc::new(CassandraStore::connect(&settings.cassandra).await?)
            }
            other => anyhow::bail!("no store {other:?}"),
        };
        let game = Uuid::new_v4();
        let start = now_ms() - args.minutes * 60_000 - 60_000;
        store
            .create_game(&GameInfo {
                id: game,
                name: "History bench".into(),
                created_ms: start,
                played_ms: None,
            })
            .await?;
        let (updates, wrote) = write_hour(&*store, game, &args, start).await;
        let bytes = match kind.as_str() {
            "embedded" => dir_bytes(&dir.path().join("history")),
            _ => {
                // no nodetool here: let Cassandra flush the tables by itself
                let session = scylla::client::session_builder::SessionBuilder::new()
                    .known_node("127.0.0.1:9042")
                    .user("cassandra", "cassandra")
                    .build()
                    .await?;
                for table in [
                    "history_by_game_bucket",
                    "history_buckets_by_game",
                    "history_snapshots_by_game",
                ] {
                    session
                        .query_unpaged(
                            format!("ALTER TABLE {KEYSPACE}.{table} WITH memtable_flush_period_in_ms = 2000"),
                            &[],
                        )
                        .await?;
                }
                tokio::time::sleep(Duration::from_secs(15)).await;
                cassandra_history_bytes(&args.cassandra_data)
            }
        };
        drop(store);
        println!(
            "{kind}: wrote {updates} updates ({} min of {} players x {}/s) in {:.1} s ({:.0} updates/s); on disk {} bytes, {:.1} bytes per update (snapshots included)",
            args.minutes,
            args.players,
            args.moves_per_sec,
            wrote.as_secs_f64(),
            updates as f64 / wrote.as_secs_f64(),
            bytes,
            bytes as f64 / updates as f64
        );
        // a server on that store; every seek through the HTTP API
        let app = drapetisca::app::Application::build(settings).await?;
        let base = format!("http://127.0.0.1:{}/api/games/{game}/history", app.port());
        let stop = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::new();
        for (label, after) in [("seek (to = from)", 0), ("seek + 30 s of play", 30_000)] {
            let (took, bytes) = time_seeks(&client, &base, start, &args, after).await;
            println!(
                "{kind}: {label}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} KB an answer",
                percentile(&took, 0.5).as_secs_f64() * 1e3,
                percentile(&took, 0.99).as_secs_f64() * 1e3,
                took.last().unwrap().as_secs_f64() * 1e3,
                bytes / 1024
            );
        }
        stop.cancel();
        server.await??;
    }
    Ok(())
}
