//! How long loading an unloaded game takes: the work the registry does when the first
//! player joins a game that is not in memory (`room::load_game`: read the game's rows
//! from the store, rebuild the board). Prints figures; asserts nothing.
//!
//!     cargo run --release -p drapetisca --example game_load -- [--games N] [--players P]
//!         [--cassandra-nodes host:port]
//!
//! Writes N games of P players each (every player with a position and a score, the
//! game's bricks and food) to a fresh store, flushes, then loads every game once, one
//! after another as the registry does, and prints the load time's percentiles. On the
//! embedded store (default) the store is reopened first, so nothing is cached by the
//! writing; on Cassandra (keyspace `drapetisca_bench_load`, dropped first) reads go to
//! the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use game_core::room;
use game_core::store::embedded::EmbeddedStore;
use game_core::store::rows::GameRows;
use game_core::store::{GameInfo, Store};
use protocol::{Board, Uuid};
use rand::rngs::StdRng;
use rand::SeedableRng;
use store_cassandra::CassandraOptions;
use store_cassandra::CassandraStore;

/// Command line of the benchmark.
#[derive(Parser)]
struct Args {
    /// Games to write and load
    #[arg(long, default_value_t = 250)]
    games: usize,
    /// Players in each game
    #[arg(long, default_value_t = 8)]
    players: usize,
    /// Measure on this Cassandra instead of the embedded store
    #[arg(long)]
    cassandra_nodes: Option<String>,
}

const KEYSPACE: &str = "drapetisca_bench_load";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let board = Board::STANDARD;
    let dir = tempfile::tempdir()?;
    let cassandra = match &args.cassandra_nodes {
        Some(nodes) => Some(CassandraOptions {
            nodes: vec![nodes.clone()],
            keyspace: KEYSPACE.parse().map_err(anyhow::Error::msg)?,
            username: Some("cassandra".into()),
            password: Some("cassandra".to_string().into()),
            ..CassandraOptions::default()
        }),
        None => None,
    };
    let open = || async {
        Ok::<Arc<dyn Store>, anyhow::Error>(match &cassandra {
            Some(options) => Arc::new(CassandraStore::connect(options).await?),
            None => Arc::new(EmbeddedStore::open(dir.path())?),
        })
    };

    let store = open().await?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut ids = Vec::with_capacity(args.games);
    let mut rows_per_game = 0;
    for n in 0..args.games {
        let id = Uuid::new_v4();
        let mut game = rules::new_game(id, board, &mut rng);
        for p in 0..args.players {
            let player = Uuid::new_v4();
            rules::enter(&mut game, player, format!("player-{p}"), &mut rng)?;
            rules::leave(&mut game, player);
        }
        let rows = game.rows();
        rows_per_game = rows.len();
        store
            .create_game(&GameInfo {
                id,
                name: format!("game {n}"),
                created_ms: 0,
                played_ms: None,
            })
            .await?;
        store.write(id, &rows).await?;
        ids.push(id);
    }
    store.flush().await?;
    drop(store);

    let started = Instant::now();
    let store = open().await?;
    let opened = started.elapsed();
    let mut took: Vec<Duration> = Vec::with_capacity(ids.len());
    for id in &ids {
        let started = Instant::now();
        let loaded = room::load_game(&*store, board, *id).await?;
        took.push(started.elapsed());
        assert!(
            !loaded.fresh,
            "game {id} was written, so it loads from its rows"
        );
    }
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1000.0);
    println!(
        "store: {}; {} games of {} players ({rows_per_game} rows each)",
        args.cassandra_nodes.as_deref().unwrap_or("embedded"),
        args.games,
        args.players
    );
    println!("store opened in {}", ms(opened));
    println!(
        "load one game: p50 {}, p99 {}, max {}",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0))
    );
    Ok(())
}
