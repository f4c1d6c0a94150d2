//! What the Cassandra store's write path costs, against a running Cassandra
//! (`cargo xtask services up`). Prints figures; asserts nothing.
//!
//!     cargo run --release -p drapetisca --example cassandra_write_cost -- [--nodes host:port] [--iterations N]
//!         [--username U --password P]
//!
//! 1. `Store::write` latency and throughput for batch sizes from 1 row (one player's
//!    move) to 512 rows (the writer's largest batch), called back to back as the
//!    writer does.
//! 2. The whole write-behind path: many players' moves handed to a `StoreWriter`, at
//!    once and then at a steady 10 moves a second per player, timed until every row is
//!    in Cassandra (coalescing included).
//!
//! Uses (and first drops) the keyspace `drapetisca_bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use game_core::store::writer::metrics::StoreMetrics;
use game_core::store::writer::StoreWriter;
use game_core::store::{ObjectKind, Store, StoredObject};
use protocol::Uuid;
use scylla::client::session_builder::SessionBuilder;
use store_cassandra::CassandraOptions;
use store_cassandra::CassandraStore;

/// Command line of the benchmark.
#[derive(Parser)]
struct Args {
    /// Cassandra contact point
    #[arg(long, default_value = "127.0.0.1:9042")]
    nodes: String,
    /// Cassandra user (the dev Cassandra's superuser by default)
    #[arg(long, default_value = "cassandra")]
    username: String,
    /// Cassandra password
    #[arg(long, default_value = "cassandra")]
    password: String,
    /// Store calls per batch size
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
}

const KEYSPACE: &str = "drapetisca_bench";

/// The number of successful store writes, as `/metrics` shows it.
const WRITES: &str = "drapetisca_store_write_seconds_count";

fn player(n: u128, step: i32) -> StoredObject {
    StoredObject {
        kind: ObjectKind::Player,
        object_id: Uuid::from_u128(n),
        active: true,
        x: step % 39,
        y: (step / 39) % 23,
        h: step % 2 == 0,
        generation: step,
        name: format!("player_{n:05}"),
        score: 0,
        expires_ms: None,
        token_hash: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plain = SessionBuilder::new()
        .known_node(&args.nodes)
        .user(&args.username, &args.password)
        .build()
        .await?;
    plain
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {KEYSPACE}"), &[])
        .await?;
    let options = CassandraOptions {
        nodes: vec![args.nodes.clone()],
        keyspace: KEYSPACE.parse().map_err(anyhow::Error::msg)?,
        username: Some(args.username.clone()),
        password: Some(args.password.clone().into()),
        ..CassandraOptions::default()
    };
    let store = Arc::new(CassandraStore::connect(&options).await?);
    let game = Uuid::new_v4();

    println!(
        "Store::write against {} (keyspace {KEYSPACE}), back to back",
        args.nodes
    );
    println!(
        "{:>6} {:>7} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "rows", "calls", "p50 ms", "p99 ms", "max ms", "calls/s", "rows/s"
    );
    for rows in [1usize, 10, 40, 100, 512] {
        let iterations = (args.iterations * 10 / rows.max(10)).max(50);
        let mut took = Vec::with_capacity(iterations);
        let started = Instant::now();
        for i in 0..iterations {
            let batch: Vec<StoredObject> = (0..rows).map(|n| player(n as u128, i as i32)).collect();
            let t = Instant::now();
            store.write(game, &batch).await?;
            took.push(t.elapsed());
        }
        let total = started.elapsed().as_secs_f64();
        took.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:>6} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>10.0} {:>10.0}",
            rows,
            iterations,
            ms(percentile(&took, 0.5)),
            ms(percentile(&took, 0.99)),
            ms(*took.last().unwrap_or(&Duration::ZERO)),
            iterations as f64 / total,
            (iterations * rows) as f64 / total
        );
    }

    let players = 1000u128;
    let moves = 20;
    println!();
    println!("StoreWriter, burst: {players} players x {moves} moves handed over at once");
    let mut figures = edge::metrics::Builder::default();
    let store_metrics = StoreMetrics::register(figures.ours());
    let metrics = figures.build();
    let (writer, task) = StoreWriter::spawn(store.clone(), store_metrics);
    let started = Instant::now();
    for step in 0..moves {
        for n in 0..players {
            writer.upsert(game, player(n, step));
        }
    }
    let handed_over = started.elapsed();
    drop(writer);
    task.await?;
    let upserts = players as usize * moves as usize;
    println!(
        "  {upserts} upserts handed over in {:.1} ms ({:.2} us each: the room's whole cost), \
         coalesced to {players} rows, in Cassandra after {:.0} ms ({} store calls)",
        handed_over.as_secs_f64() * 1000.0,
        handed_over.as_secs_f64() * 1e6 / upserts as f64,
        started.elapsed().as_secs_f64() * 1000.0,
        metrics.value(WRITES).unwrap_or(0.0),
    );
    let last = store.load(game).await?;
    assert_eq!(last.len(), players as usize);
    assert!(last.iter().all(|o| o.generation == moves - 1));

    // Sustained: every player moves 10 times a second, for a few seconds.
    let rate_per_tick = players as i32; // one move per player per 100 ms tick
    let ticks = 50;
    println!();
    println!(
        "StoreWriter, sustained: {players} players moving 10 times a second ({} moves/s) for {} s",
        rate_per_tick * 10,
        ticks / 10
    );
    let mut figures = edge::metrics::Builder::default();
    let store_metrics = StoreMetrics::register(figures.ours());
    let metrics = figures.build();
    let (writer, task) = StoreWriter::spawn(store.clone(), store_metrics);
    let mut peak_backlog = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for step in 0..ticks {
        tick.tick().await;
        for n in 0..players {
            writer.upsert(game, player(n, step));
        }
        peak_backlog =
            peak_backlog.max(metrics.value("drapetisca_store_backlog").unwrap_or(0.0) as i64);
    }
    let stopped_moving = Instant::now();
    drop(writer);
    task.await?;
    let calls = metrics.value(WRITES).unwrap_or(0.0);
    let seconds = metrics
        .value("drapetisca_store_write_seconds_sum")
        .unwrap_or(0.0);
    println!(
        "  {calls} store calls ({:.0}/s), {:.2} ms each on average, backlog peak {peak_backlog} rows, \
         {:.0} ms from the last move to all rows in Cassandra, failures {}",
        calls / (ticks as f64 / 10.0),
        seconds * 1000.0 / calls.max(1.0),
        stopped_moving.elapsed().as_secs_f64() * 1000.0,
        metrics
            .value("drapetisca_store_write_failures_total")
            .unwrap_or(0.0),
    );

    plain
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {KEYSPACE}"), &[])
        .await?;
    Ok(())
}
