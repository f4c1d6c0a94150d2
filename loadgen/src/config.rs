//! What a run does: the command line, also built directly by tests.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::sockets::SocketMode;

/// One load run: how many bots, how fast they move, for how long, against which server.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "loadgen",
    about = "Bot players against a local Drapetisca server: move latency, deliveries, server CPU and memory"
)]
pub struct Config {
    /// Server address (loopback only); ignored with --spawn, which picks a free port.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// More servers of one cluster (loopback only; repeat for several): bot i connects
    /// to the i-th of `--addr` and these, round-robin, so players spread over instances.
    #[arg(long = "also-addr")]
    pub also_addrs: Vec<SocketAddr>,
    /// How many bot players.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub players: usize,
    /// Games the bots are spread over: bot `i` plays game `i mod N`. Game 0 is the
    /// server's default game (the reference routes); the others are created through the
    /// lobby API before the bots connect (a spawned server needs
    /// `--server-arg=--max-game-creations-per-minute=N` for more than 10).
    #[arg(long, default_value_t = 1)]
    pub games: usize,
    /// Moves per second per bot; 0 keeps the bots connected and idle.
    #[arg(long, short = 'r', default_value_t = 2.0)]
    pub rate: f64,
    /// How long the bots move, in seconds, once every bot has entered.
    #[arg(long, short = 't', default_value_t = 10.0)]
    pub duration: f64,
    /// Bots connecting per second during the ramp-up, so connects do not stampede.
    #[arg(long, default_value_t = 200.0)]
    pub connects_per_sec: f64,
    /// How many sockets each bot plays on: `one` (`/ws/one/{id}`, as Drapetisca's own
    /// page plays: commands, replies and the batched world stream on one socket), or
    /// `two`, the reference protocol's player and world sockets (what a reference
    /// server speaks).
    #[arg(long, value_enum, default_value_t = SocketMode::One)]
    pub sockets: SocketMode,
    /// Two-socket bots ask for the batched world stream (`?batch=true`, several updates
    /// to a message); without it they are reference clients, one message per update.
    /// The one socket is always batched. Latency and loss count every update inside a
    /// batch.
    #[arg(long)]
    pub batched: bool,
    /// Seconds between two drops of one bot's connection while the bots move: it closes
    /// its sockets without a close frame, waits `--drop-for-ms`, opens them again
    /// naming the last update it saw (`?after=`, docs/protocol.md, "Resuming the world
    /// stream") and enters again; 0 means the bots never drop. The report counts the
    /// returns that resumed (`drops`, `resumed`); updates delivered late or never
    /// because of a drop count as late or lost, as for any client, and a returning
    /// bot's own position, published again with its last generation, counts as a
    /// duplicate for every bot.
    #[arg(long, default_value_t = 0.0)]
    pub drop_every: f64,
    /// How long a dropped bot stays away, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub drop_for_ms: u64,
    /// Dropped bots come back without naming their last update (a brief, as before
    /// resuming existed), to compare.
    #[arg(long)]
    pub drop_without_resume: bool,
    /// Seconds between two chat lines of one bot; 0 means the bots never chat.
    #[arg(long, default_value_t = 0.0)]
    pub chat_every: f64,
    /// Seconds to keep listening after the last move, before counting what never came.
    #[arg(long, default_value_t = 2.0)]
    pub grace: f64,
    /// A delivery slower than this many milliseconds counts as late (still delivered).
    #[arg(long, default_value_t = 1000.0)]
    pub late_ms: f64,
    /// Pid of a local server to sample CPU and memory from (/proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Start this server binary on a free loopback port, measure it, stop it at the end.
    #[arg(long)]
    pub spawn: Option<PathBuf>,
    /// Extra argument for the spawned server (repeat for several).
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// Where the spawned server's output goes; discarded when not given.
    #[arg(long)]
    pub server_log: Option<PathBuf>,
    /// HTTP path asked to tell that a spawned server is up (any answer counts).
    #[arg(long, default_value = "/")]
    pub probe_path: String,
    /// Only measure a spawned server's start to its first answered request; no bots.
    #[arg(long)]
    pub startup_only: bool,
    /// A name for this run, copied into the JSON line (e.g. the scenario).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Append the JSON line to this file as well as printing it.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Print only the JSON line, not the human-readable report.
    #[arg(long)]
    pub quiet: bool,
    /// Run hostile clients beside the bots while they move: spammers over the rate
    /// limits, garbage frames, id thieves, half-sent handshakes, and two floods of idle
    /// sockets (see `hostile`). Needs a --duration of 20 s or more for both floods.
    #[arg(long)]
    pub hostile: bool,
    /// Spectators beside the bots (docs/protocol.md, "Spectators"): each opens a
    /// spectator socket on a game of the bots (spectator i watches the game of bot
    /// group i mod --games), is briefed, and counts every bot move it receives; the
    /// report gives their deliveries and latency apart from the players'. A spawned
    /// server needs `--server-arg=--max-sockets-per-address=N` above the bots' and
    /// spectators' sockets.
    #[arg(long, default_value_t = 0)]
    pub spectators: usize,
    /// Idle player sockets in each of the two floods of --hostile.
    #[arg(long, default_value_t = 1000)]
    pub flood: usize,
}

/// Why a configuration cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the load generator only talks to loopback addresses, not {0}")]
    NotLoopback(IpAddr),
    #[error("--startup-only needs --spawn")]
    StartupNeedsSpawn,
    #[error("--{0} must be a finite number >= 0")]
    BadNumber(&'static str),
    #[error("--server-pid and --spawn exclude each other")]
    PidAndSpawn,
    #[error("--games must be at least 1")]
    NoGames,
}

impl Config {
    /// A configuration with every default, for tests and for callers building one by hand.
    pub fn defaults() -> Self {
        // unwrap: the defaults above are valid by construction
        Config::try_parse_from(["loadgen"]).unwrap()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for addr in std::iter::once(&self.addr).chain(&self.also_addrs) {
            if !addr.ip().is_loopback() {
                return Err(ConfigError::NotLoopback(addr.ip()));
            }
        }
        if self.startup_only && self.spawn.is_none() {
            return Err(ConfigError::StartupNeedsSpawn);
        }
        if self.server_pid.is_some() && self.spawn.is_some() {
            return Err(ConfigError::PidAndSpawn);
        }
        if self.games == 0 {
            return Err(ConfigError::NoGames);
        }
        for (name, value) in [
            ("rate", self.rate),
            ("duration", self.duration),
            ("chat-every", self.chat_every),
            ("grace", self.grace),
            ("late-ms", self.late_ms),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(ConfigError::BadNumber(name));
            }
        }
        if !self.connects_per_sec.is_finite() || self.connects_per_sec <= 0.0 {
            return Err(ConfigError::BadNumber("connects-per-sec"));
        }
        Ok(())
    }

    /// When spectator `index` opens its socket: after the bots, at the same pace.
    pub fn spectator_offset(&self, index: usize) -> Duration {
        self.connect_offset(self.players + index)
    }

    /// When bot `index` opens its sockets, counted from the start of the ramp-up.
    pub fn connect_offset(&self, index: usize) -> Duration {
        Duration::from_secs_f64(index as f64 / self.connects_per_sec)
    }

    /// The most moves one bot can send in a run: one per tick over the duration.
    pub fn max_moves(&self) -> usize {
        if self.rate == 0.0 {
            return 0;
        }
        (self.rate * self.duration).ceil() as usize + 1
    }
}
