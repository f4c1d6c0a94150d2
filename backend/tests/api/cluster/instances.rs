//! Instances of the `drapetisca` binary as separate processes sharing one world topic
//! (hence one command topic) and one keyspace: what an operator runs behind a load
//! balancer. The binary is the release build, as deployed: the first instance of a
//! test run has cargo build it (`cargo build --release -p drapetisca`, a no-op when
//! `cargo xtask test` built it already), so `cargo test` needs no other build step.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use protocol::Uuid;
use test_support::netns::Netns;

use crate::cassandra::support::{
    drop_stale_keyspaces_once, fresh_keyspace, require_cassandra, NODE, PASSWORD, USER,
};
use crate::helpers::{
    create_command_topic, pulsar_token_file, unique_topic, Client, PATIENCE, PULSAR_URL,
};

/// The release binary, built once per test run.
pub fn release_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        test_support::binaries::build(&["--release", "-p", "drapetisca", "--bin", "drapetisca"])
    })
}

/// What the instances of one test share.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The world topic (the command and direct topics derive from it).
    pub topic: String,
    /// The Cassandra keyspace.
    pub keyspace: String,
    /// The one game they play.
    pub game: Uuid,
}

impl Deployment {
    /// A fresh topic (with its partitioned command topic) and keyspace.
    pub fn new() -> Self {
        require_cassandra();
        // a developer running only the cluster tests again and again would otherwise
        // pile up keyspaces until Cassandra's heap runs out (it did, at about 650)
        drop_stale_keyspaces_once();
        let topic = unique_topic();
        create_command_topic(&topic);
        Deployment {
            topic,
            keyspace: fresh_keyspace(),
            game: Uuid::new_v4(),
        }
    }

    /// Starts one instance on a free port; returns once it listens.
    pub fn start(&self, name: &str) -> Instance {
        self.start_with(name, &[])
    }

    /// Like [`Deployment::start`], with more settings (`DRAPETISCA_*` variables).
    pub fn start_with(&self, name: &str, settings: &[(&str, &str)]) -> Instance {
        self.launch(name, settings, None)
    }

    /// Starts one instance inside `netns`: it reaches Pulsar and Cassandra through the
    /// namespace's forwarders (which [`Netns::cut`] can cut off), and its players reach
    /// it at the namespace's address.
    pub fn start_in(&self, name: &str, netns: &Netns) -> Instance {
        self.launch(name, &[], Some(netns))
    }

    fn launch(&self, name: &str, settings: &[(&str, &str)], netns: Option<&Netns>) -> Instance {
        let dir = tempfile::tempdir().expect("temporary directory");
        let host = netns.map_or("127.0.0.1".to_string(), |n| n.address.to_string());
        let mut command = match netns {
            Some(netns) => netns.command(release_binary()),
            None => Command::new(release_binary()),
        };
        let mut child = command
            .env("NO_COLOR", "1")
            .env("DRAPETISCA_BIND", format!("{host}:0"))
            .env("DRAPETISCA_DATA_DIR", dir.path())
            .env("DRAPETISCA_GAME_ID", self.game.to_string())
            .env("DRAPETISCA_CLUSTER", "true")
            .env("DRAPETISCA_LOG", "info,pulsar=error")
            .env("DRAPETISCA_PULSAR_URL", PULSAR_URL)
            .env("DRAPETISCA_PULSAR_TOPIC", &self.topic)
            .env("DRAPETISCA_PULSAR_TOKEN_FILE", pulsar_token_file())
            .env("DRAPETISCA_CASSANDRA_NODES", NODE)
            .env("DRAPETISCA_CASSANDRA_KEYSPACE", &self.keyspace)
            .env("DRAPETISCA_CASSANDRA_USERNAME", USER)
            .env("DRAPETISCA_CASSANDRA_PASSWORD", PASSWORD)
            .envs(settings.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        // unwrap: stderr was piped above
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(rest) = line.split(" port=").nth(1) {
                    let port: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                    let _ = port_tx.send(port);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name} did not start: {:?}", log.lock().unwrap()));
        Instance {
            name: name.into(),
            address: format!("{host}:{port}"),
            child,
            log,
            _dir: dir,
        }
    }
}

/// One running instance.
pub struct Instance {
    /// For messages.
    pub name: String,
    /// `127.0.0.1:port`, or the namespace's address and the port.
    pub address: String,
    child: Child,
    /// Its log lines so far.
    log: Arc<Mutex<Vec<String>>>,
    /// Its (unused) embedded data directory.
    _dir: tempfile::TempDir,
}

impl Instance {
    /// The epochs at which this instance took the game over, in order.
    pub fn take_overs(&self) -> Vec<u64> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("game taken over"))
            .filter_map(|l| l.split(" epoch=").nth(1))
            .filter_map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect::<String>()
                    .parse()
                    .ok()
            })
            .collect()
    }

    /// Prints the lines of its log that say it took a game over, was fenced off,
    /// handed a game over or lost partitions.
    pub fn print_ownership(&self) {
        let log = self.log();
        let owning: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.contains("taken over")
                    || l.contains("fenced")
                    || l.contains("handed over")
                    || l.contains("partitions lost")
            })
            .collect();
        println!("{}: {owning:#?}", self.name);
    }

    /// Its log, for failure messages.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL: the process dies at once, nothing is flushed or handed over.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        let _ = self.child.wait();
    }

    /// Sends `signal` (`TERM`, `STOP`, `CONT`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIG{signal} delivered to {}", self.name);
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "{} exited with {status}:\n{}",
                    self.name,
                    self.log()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop on SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Has a player enter through the first of `instances`, so that the game gets an
/// owner, and waits for it; the owner's index and epoch. The player leaves again.
pub async fn first_owner(instances: &[&Instance]) -> (usize, u64) {
    let mut first = Client::connect_at(&instances[0].address, Uuid::new_v4(), "First").await;
    first.enter().await;
    owner_after(instances, 0, PATIENCE).await
}

/// Waits until one of `instances` has taken the game over at an epoch above `after`;
/// returns its index and the epoch.
pub async fn owner_after(instances: &[&Instance], after: u64, within: Duration) -> (usize, u64) {
    let deadline = Instant::now() + within;
    loop {
        let best = instances
            .iter()
            .enumerate()
            .filter_map(|(i, inst)| inst.take_overs().last().map(|e| (i, *e)))
            .max_by_key(|(_, e)| *e);
        if let Some((i, epoch)) = best.filter(|(_, e)| *e > after) {
            return (i, epoch);
        }
        assert!(
            Instant::now() < deadline,
            "no take-over after epoch {after} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The names of the three instances of [`three_with_a_player_each`].
pub const THREE: [&str; 3] = ["one", "two", "three"];

/// Three instances, and a player entered on each: Ana on `one`, Bob on `two`, Cleo on
/// `three`. The instances are `Option`s, to be killed and started again in place.
pub async fn three_with_a_player_each(
    deployment: &Deployment,
) -> (Vec<Option<Instance>>, Vec<Client>) {
    let instances: Vec<Option<Instance>> =
        THREE.iter().map(|n| Some(deployment.start(n))).collect();
    let mut players = Vec::new();
    for (i, name) in ["Ana", "Bob", "Cleo"].iter().enumerate() {
        let address = instances[i].as_ref().unwrap().address.clone();
        let mut player = Client::connect_at(&address, Uuid::new_v4(), name).await;
        player.enter().await;
        players.push(player);
    }
    (instances, players)
}
