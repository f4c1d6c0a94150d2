//! Three `--cluster` instances on this machine: the move latency with players spread
//! over them, and the failover time over repeated SIGKILLs of the game's owner. Not a
//! test: it prints the figures of docs/benchmarks.md's cluster rows.
//!
//! ```text
//! cargo xtask services up
//! cargo build --release -p drapetisca -p loadgen
//! cargo run --release -p drapetisca --example cluster_bench [-- KILLS PLAYERS SECONDS]
//! ```
//!
//! Defaults: 20 kills, 60 players moving twice a second for 20 s. The instances are
//! `target/release/drapetisca` (`DRAPETISCA_BIN` overrides) on a fresh world topic (its
//! partitioned command topic made through the admin API on 127.0.0.1:18080) and a fresh
//! keyspace of the local Cassandra (`cassandra`/`cassandra`).
//!
//! - **Move to others**: `target/release/loadgen --addr A --also-addr B --also-addr C`,
//!   bot i on instance i mod 3: the time from a move sent on one instance to its update
//!   on the world sockets of every other bot, on all three instances.
//! - **The same load on one instance**: the bots on one instance started on its own
//!   (no `--cluster`, a topic and game of its own) on the same Pulsar and Cassandra,
//!   right after: the figure the cluster's latency is compared with.
//! - **Failover**: per round, a fresh player on an instance that does not own the game
//!   tries a move every 50 ms (each a new move, as a page does); the owner is killed;
//!   the figure is the time from the SIGKILL to the first move validated after it. The
//!   killed instance is then started again and the cluster left to settle for 5 s.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use protocol::Uuid;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const PULSAR_URL: &str = "pulsar://127.0.0.1:6650";
const PULSAR_ADMIN: &str = "http://127.0.0.1:18080";
const CASSANDRA: &str = "127.0.0.1:9042";
/// Command partitions of the bench's topic, as `cargo xtask services up` makes them.
const PARTITIONS: u32 = 8;
/// How long a prober waits for one move's answer before it sends the next.
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// A round whose move is not validated within this long failed.
const GIVE_UP: Duration = Duration::from_secs(60);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut number = |default: u64| -> anyhow::Result<u64> {
        args.next()
            .map_or(Ok(default), |a| a.parse().context("arguments are numbers"))
    };
    let (kills, players, seconds) = (number(20)?, number(60)?, number(20)?);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = std::env::var_os("DRAPETISCA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("release/drapetisca"));
    let loadgen = target.join("release/loadgen");
    for path in [&binary, &loadgen] {
        if !path.is_file() {
            bail!(
                "{} is missing: cargo build --release -p drapetisca -p loadgen",
                path.display()
            );
        }
    }
    let token_file = std::env::var_os("DRAPETISCA_PULSAR_TOKEN_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".services/pulsar/token"));
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("no broker token in {}", token_file.display()))?;
    let deployment = Deployment {
        binary,
        token_file,
        topic: format!(
            "persistent://public/default/drapetisca-bench-{}",
            Uuid::new_v4()
        ),
        keyspace: format!("bench_{:08x}", rand::random::<u32>()),
        game: Uuid::new_v4(),
    };
    create_command_topic(&deployment.topic, token.trim()).await?;
    let names = ["one", "two", "three"];
    let mut instances: Vec<Instance> = names
        .iter()
        .map(|n| deployment.start(n))
        .collect::<anyhow::Result<_>>()?;
    println!(
        "cluster bench: 3 instances of {}, {} partitions, load average {}",
        deployment.binary.display(),
        PARTITIONS,
        load_average()
    );

    // moves with players spread over the three instances, then the same load on one
    // instance (no --cluster) on the same Pulsar and Cassandra: the comparison the
    // cluster's latency goal is stated against
    let addresses: Vec<&str> = instances.iter().map(|i| i.address.as_str()).collect();
    let cluster = move_to_others(&loadgen, &addresses, players, seconds, "cluster-3")?;
    print_move_to_others("over 3 instances", &cluster, players, seconds);
    let mut alone = deployment.start_alone()?;
    let one = move_to_others(&loadgen, &[&alone.address], players, seconds, "alone")?;
    alone.kill();
    print_move_to_others("on one instance", &one, players, seconds);
    println!(
        "p99 move to others, 3 instances / one: {:.2} / {:.2} ms ({:.1}x); load average {}",
        cluster.to_others.latency.p99_ms,
        one.to_others.latency.p99_ms,
        cluster.to_others.latency.p99_ms / one.to_others.latency.p99_ms,
        load_average()
    );

    // failover: kill the owner, time the first validated move after it
    let mut times = Vec::new();
    for round in 1..=kills {
        let owner = owner(&instances).context("no instance owns the game")?;
        let prober_at = (owner + 1) % instances.len();
        let mut prober = Prober::enter(&instances[prober_at].address).await?;
        // the prober's own moves validate before the kill: the game runs
        prober.moved_within(Duration::from_secs(10)).await?;
        let old = instances[owner].take_overs.lock().unwrap().len();
        let killed_name = instances[owner].name.clone();
        instances[owner].kill();
        let killed = Instant::now();
        loop {
            if prober.moved_within(PROBE_EVERY).await.is_ok() {
                break;
            }
            if killed.elapsed() > GIVE_UP {
                bail!("round {round}: no move validated within {GIVE_UP:?} of the kill");
            }
        }
        let took = killed.elapsed();
        times.push(took);
        println!(
            "  kill {round}: {killed_name} (owner, {old} take-over(s)) -> move validated on {} after {:.0} ms",
            instances[prober_at].name,
            took.as_secs_f64() * 1000.0
        );
        prober.leave().await;
        instances[owner] = deployment.start(&killed_name)?;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    times.sort();
    if !times.is_empty() {
        let at = |q: f64| {
            let index = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
            times[index].as_secs_f64() * 1000.0
        };
        println!(
            "failover over {} SIGKILLs of the owner: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; load average {}",
            times.len(),
            at(0.5),
            at(0.99),
            at(1.0),
            load_average()
        );
    }
    Ok(())
}

/// Runs `loadgen` with bot i on `addresses[i mod n]`; its report.
fn move_to_others(
    loadgen: &std::path::Path,
    addresses: &[&str],
    players: u64,
    seconds: u64,
    label: &str,
) -> anyhow::Result<loadgen_report::Report> {
    let mut command = Command::new(loadgen);
    command.args(["--addr", addresses[0]]);
    for address in &addresses[1..] {
        command.args(["--also-addr", address]);
    }
    let output = command
        .args(["-n", &players.to_string(), "-r", "2"])
        .args(["-t", &seconds.to_string(), "--quiet", "--label", label])
        // reference clients, one message per update, as in the earlier rows: the one
        // socket's batching (up to --world-batch-ms) would add its own wait to the figure
        .args(["--sockets", "two"])
        .output()
        .context("loadgen runs")?;
    let line = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(line.trim()).with_context(|| format!("loadgen printed no report: {line}"))
}

fn print_move_to_others(setup: &str, report: &loadgen_report::Report, players: u64, seconds: u64) {
    let others = &report.to_others;
    println!(
        "move to others, {players} players x 2 moves/s x {seconds} s {setup}: \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} expected, {} lost, {} late; \
         loadgen CPU {:.0}%, machine CPU {:.0}%",
        others.latency.p50_ms,
        others.latency.p90_ms,
        others.latency.p99_ms,
        others.latency.max_ms,
        others.expected,
        others.lost,
        others.late,
        report.loadgen_cpu_percent,
        report.machine_cpu_percent,
    );
}

/// What the instances share.
struct Deployment {
    binary: PathBuf,
    token_file: PathBuf,
    topic: String,
    keyspace: String,
    game: Uuid,
}

/// One instance: its process and what its log said.
struct Instance {
    name: String,
    address: String,
    child: Child,
    /// Epochs at which it took the game over.
    take_overs: Arc<Mutex<Vec<u64>>>,
}

impl Deployment {
    /// Starts an instance of the cluster.
    fn start(&self, name: &str) -> anyhow::Result<Instance> {
        let mut command = Command::new(&self.binary);
        command
            .env("DRAPETISCA_GAME_ID", self.game.to_string())
            .env("DRAPETISCA_CLUSTER", "true")
            .env("DRAPETISCA_PULSAR_TOPIC", &self.topic);
        self.spawn(name, command)
    }

    /// Starts an instance on its own (no --cluster) on the same Pulsar and Cassandra,
    /// with a world topic and a game of its own.
    fn start_alone(&self) -> anyhow::Result<Instance> {
        let mut command = Command::new(&self.binary);
        command
            .env("DRAPETISCA_GAME_ID", Uuid::new_v4().to_string())
            .env("DRAPETISCA_PULSAR_TOPIC", format!("{}-alone", self.topic));
        self.spawn("alone", command)
    }

    fn spawn(&self, name: &str, mut command: Command) -> anyhow::Result<Instance> {
        let mut child = command
            .env("NO_COLOR", "1")
            .env("DRAPETISCA_BIND", "127.0.0.1:0")
            .env("DRAPETISCA_DATA_DIR", std::env::temp_dir())
            .env("DRAPETISCA_LOG", "info,pulsar=error")
            .env("DRAPETISCA_PULSAR_URL", PULSAR_URL)
            .env("DRAPETISCA_PULSAR_TOKEN_FILE", &self.token_file)
            .env("DRAPETISCA_CASSANDRA_NODES", CASSANDRA)
            .env("DRAPETISCA_CASSANDRA_KEYSPACE", &self.keyspace)
            .env("DRAPETISCA_CASSANDRA_USERNAME", "cassandra")
            .env("DRAPETISCA_CASSANDRA_PASSWORD", "cassandra")
            // the bots are many sockets from one address
            .env("DRAPETISCA_MAX_SOCKETS_PER_ADDRESS", "100000")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .context("the binary starts")?;
        let take_overs = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().context("stderr is piped")?);
        let epochs = take_overs.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(port) = number_after(&line, " port=") {
                    let _ = port_tx.send(port);
                }
                if line.contains("game taken over") {
                    if let Some(epoch) = number_after(&line, " epoch=") {
                        // unwrap: nothing panics while holding it
                        epochs.lock().unwrap().push(epoch);
                    }
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .with_context(|| format!("{name} did not start"))?;
        Ok(Instance {
            name: name.into(),
            address: format!("127.0.0.1:{port}"),
            child,
            take_overs,
        })
    }
}

impl Instance {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The instance that took the game over last (the highest epoch).
fn owner(instances: &[Instance]) -> Option<usize> {
    instances
        .iter()
        .enumerate()
        // unwrap: nothing panics while holding it
        .filter_map(|(i, inst)| inst.take_overs.lock().unwrap().last().map(|e| (i, *e)))
        .max_by_key(|(_, epoch)| *epoch)
        .map(|(i, _)| i)
}

fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = line.split(key).nth(1)?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn create_command_topic(topic: &str, token: &str) -> anyhow::Result<()> {
    let path = bus_pulsar::contract::command_topic(topic).replace("persistent://", "persistent/");
    let url = format!("{PULSAR_ADMIN}/admin/v2/{path}/partitions");
    let response = reqwest::Client::new()
        .put(&url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(PARTITIONS.to_string())
        .send()
        .await
        .with_context(|| format!("the pulsar admin api at {PULSAR_ADMIN} answers"))?;
    if !response.status().is_success() {
        bail!("creating {path}: {}", response.status());
    }
    Ok(())
}

/// A player that moves and waits for its own update on the world socket.
struct Prober {
    id: Uuid,
    player: Ws,
    world: Ws,
    generation: i64,
    /// Where it stands (from its last update).
    at: (i64, i64),
}

impl Prober {
    async fn enter(address: &str) -> anyhow::Result<Prober> {
        let id = Uuid::new_v4();
        let open = |route: String| async move {
            let url = format!("ws://{address}{route}");
            let (ws, _) = tokio_tungstenite::connect_async(&url)
                .await
                .with_context(|| format!("{url} opens"))?;
            anyhow::Ok(ws)
        };
        let world = open(protocol::world_route(id)).await?;
        let mut player = open(protocol::player_route(id)).await?;
        let entering = json!({"messageType": "entering", "payload": {"name": "probe"}});
        player.send(Message::text(entering.to_string())).await?;
        let ids = id.to_string();
        let at = loop {
            let frame = next(&mut player, Duration::from_secs(30))
                .await
                .context("a brief")?;
            if frame["messageType"] == "player" && frame["playerID"] == ids.as_str() {
                break cell(&frame);
            }
        };
        Ok(Prober {
            id,
            player,
            world,
            generation: 0,
            at,
        })
    }

    /// Sends one move (a step to the left or right, a snap-back counts: the owner
    /// answered) and waits `within` for its answer.
    async fn moved_within(&mut self, within: Duration) -> anyhow::Result<()> {
        self.generation += 1;
        let x = if self.at.0 > 0 { self.at.0 - 1 } else { 1 };
        let step = json!({"messageType": "player", "payload":
            {"x": x, "y": self.at.1, "h": false, "generation": self.generation, "name": "probe"}});
        // a closed socket just never answers: the round times out
        let _ = self.player.send(Message::text(step.to_string())).await;
        let deadline = Instant::now() + within;
        let id = self.id.to_string();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = next(&mut self.world, left).await.context("no answer")?;
            if frame["messageType"] == "player"
                && frame["playerID"] == id.as_str()
                && frame["payload"]["generation"] == self.generation
            {
                self.at = cell(&frame);
                return Ok(());
            }
        }
    }

    async fn leave(mut self) {
        let leaving = json!({"messageType": "leaving", "payload": {"name": "probe"}});
        let _ = self.player.send(Message::text(leaving.to_string())).await;
        let _ = self.player.close(None).await;
        let _ = self.world.close(None).await;
    }
}

fn cell(frame: &Value) -> (i64, i64) {
    let payload = &frame["payload"];
    (
        payload["x"].as_i64().unwrap_or(0),
        payload["y"].as_i64().unwrap_or(0),
    )
}

/// The next JSON text frame within `within`, or `None`.
async fn next(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}
