//! Settings: every option is a flag and a `DRAPETISCA_*` environment variable, with a
//! default that runs the game on one machine with nothing else installed. Credentials
//! are `secrecy` strings: their `Debug` does not print them, and a driver gets one only
//! through `expose_secret`. Each part's options live beside what they configure (the
//! guard's in `edge`, Pulsar's and Cassandra's in their adapters); this flattens them.

use std::path::PathBuf;

use clap::Parser;
use protocol::Uuid;

pub use bus_pulsar::options::{PulsarOptions, DEFAULT_TOPIC};
pub use edge::guard::GuardOptions;
pub use store_cassandra::CassandraOptions;

/// Drapetisca: a real-time multiplayer spider game. Serves the game page and its two
/// WebSockets; runs on an embedded bus and store unless pointed at Apache Pulsar and
/// Apache Cassandra.
#[derive(Clone, Debug, Parser)]
#[command(name = "drapetisca", version)]
pub struct Settings {
    /// Address to listen on (host:port; port 0 picks a free one)
    #[arg(long, env = "DRAPETISCA_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,

    /// Directory of the embedded store (created if missing)
    #[arg(long, env = "DRAPETISCA_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// The default game (the one the reference routes play), instead of the store's
    /// current game (created if unknown)
    #[arg(long, env = "DRAPETISCA_GAME_ID")]
    pub game_id: Option<Uuid>,

    /// Log filter, in tracing's EnvFilter syntax (e.g. info, drapetisca=debug)
    #[arg(long, env = "DRAPETISCA_LOG", default_value = "info")]
    pub log: String,

    /// How many world updates a world socket may fall behind before it is dropped
    #[arg(long, env = "DRAPETISCA_WORLD_QUEUE", default_value_t = 1024)]
    pub world_queue: usize,

    /// Shortest time between two messages of a game's batched world stream, in
    /// milliseconds (the stream clients ask for with `?batch=true`; an update after a
    /// quiet spell goes at once)
    #[arg(long, env = "DRAPETISCA_WORLD_BATCH_MS", default_value_t = 10)]
    pub world_batch_ms: u64,

    /// How many of each game's latest updates an instance keeps to resume a client
    /// that reconnects (`?after=`, docs/protocol.md); 0: none, every reconnect gets a
    /// brief. About 200 bytes each: 800 KiB for a busy game at the default
    #[arg(long, env = "DRAPETISCA_RESUME_UPDATES", default_value_t = 4096)]
    pub resume_updates: usize,

    /// How long, in seconds, an update is kept to resume clients, and how long a
    /// game's kept updates outlive its last socket on this instance
    #[arg(long, env = "DRAPETISCA_RESUME_SECS", default_value_t = 30)]
    pub resume_secs: u64,

    /// Seconds a game stays loaded with no player connected before it is unloaded
    /// (it stays in the store and loads again when someone joins)
    #[arg(long, env = "DRAPETISCA_GAME_IDLE_SECS", default_value_t = 600)]
    pub game_idle_secs: u64,

    /// Seconds a player who left keeps its place (position, score) for a return; after
    /// that it is forgotten, in memory and in the store
    #[arg(
        long,
        env = "DRAPETISCA_PRUNE_PLAYERS_AFTER_SECS",
        default_value_t = 86_400,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub prune_players_after_secs: u64,

    /// Seconds each update of a game's history (and its snapshots) is kept, for the
    /// replay and the history API (docs/protocol.md, "History"); 0 keeps no history
    /// (the rooms then make no records at all). Default: 7 days
    #[arg(long, env = "DRAPETISCA_HISTORY_SECS", default_value_t = 7 * 86_400)]
    pub history_secs: u64,

    /// Seconds between two snapshots of a game in its history while it is played: a
    /// seek reads one snapshot and at most this many seconds of updates
    #[arg(
        long,
        env = "DRAPETISCA_HISTORY_SNAPSHOT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub history_snapshot_secs: u64,

    /// Seconds a game may go unplayed (no update; from its creation if never played)
    /// before it is forgotten with its rows and history, and leaves the lobby; the
    /// default game is never forgotten, nor a game with players. 0: never. Default:
    /// 30 days
    #[arg(long, env = "DRAPETISCA_FORGET_GAMES_AFTER_SECS", default_value_t = 30 * 86_400)]
    pub forget_games_after_secs: u64,

    /// Most games this instance runs at once; creating or loading one more is refused
    /// (with --cluster: games with player sockets on this instance, wherever they are
    /// owned; --max-owned-games caps the games it owns)
    #[arg(long, env = "DRAPETISCA_MAX_GAMES", default_value_t = 1000)]
    pub max_games: usize,

    /// With --cluster: most games this instance owns (applies the rules for, whoever's
    /// sockets play them); a new game of its partitions is refused at the cap (1013, try
    /// again later), while running games of a dead or leaving instance are taken over
    /// even above it (see docs/cluster.md)
    #[arg(
        long,
        env = "DRAPETISCA_MAX_OWNED_GAMES",
        default_value_t = 1000,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_owned_games: usize,

    /// Most games one client address may create per minute
    #[arg(
        long,
        env = "DRAPETISCA_MAX_GAME_CREATIONS_PER_MINUTE",
        default_value_t = 10
    )]
    pub max_game_creations_per_minute: usize,

    /// Most spectators of one game on this instance (docs/protocol.md, "Spectators");
    /// one more is refused before its socket opens (503)
    #[arg(
        long,
        env = "DRAPETISCA_MAX_SPECTATORS_PER_GAME",
        default_value_t = 2000
    )]
    pub max_spectators_per_game: usize,

    /// Most spectators on this instance, all games together; one more is refused
    /// before its socket opens (503)
    #[arg(long, env = "DRAPETISCA_MAX_SPECTATORS", default_value_t = 10_000)]
    pub max_spectators: usize,

    /// Serve /metrics on this address (host:port) instead of the main one, so that it
    /// need not be public
    #[arg(long, env = "DRAPETISCA_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// Share games with the other instances on the same Pulsar topic and Cassandra
    /// keyspace: one owner per game, the others forward (needs --pulsar-url and
    /// --cassandra-nodes; see docs/cluster.md)
    #[arg(long, env = "DRAPETISCA_CLUSTER")]
    pub cluster: bool,

    #[command(flatten)]
    pub guard: GuardOptions,

    #[command(flatten)]
    pub pulsar: PulsarOptions,

    #[command(flatten)]
    pub cassandra: CassandraOptions,
}

impl Settings {
    /// Settings for a server on a free loopback port with its data in `data_dir`: what
    /// tests and benchmarks start from.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        // unwrap: parsing the defaults with no arguments cannot fail
        let mut settings = Settings::try_parse_from(["drapetisca"]).unwrap();
        settings.bind = "127.0.0.1:0".into();
        settings.data_dir = data_dir.into();
        settings
    }
}
