//! Every connection the server opens to the Pulsar broker has `TCP_NODELAY` set, also
//! the ones the `pulsar` crate opens again after a connection was lost: with Nagle on,
//! back-to-back commands waited for the broker's delayed ACK and a move took up to
//! 40 ms across instances (docs/cluster.md, "No Nagle on the broker's connections").
//! The crate sets nothing itself; the copy in `vendor/pulsar` does.
//!
//! The test reads the option off the sockets of this process (`/proc/self/fd`), so it
//! has a binary of its own: it cuts the server's broker connections, which would
//! disturb the other Pulsar tests. Needs the local broker and Cassandra running
//! (`cargo xtask services up`).

use std::collections::HashSet;
use std::net::Shutdown;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde_json::json;
use socket2::SockRef;
use test_support::app::{
    self as helpers, cell_of, create_command_topic, free_neighbour, next_text, spawn_app, start,
    Client,
};

/// The broker's plain and TLS ports (`services/pulsar/standalone.conf`).
const BROKER_PORT: u16 = 6650;
const BROKER_TLS_PORT: u16 = 6651;

/// A cluster instance's clients, one connection each: the world bus's producer and
/// consumer clients and the cluster's (docs/cluster.md).
const CLUSTER_CLIENTS: usize = 4;

/// How long the crate may take to connect again and the game to move again after its
/// connections were cut: generous for a loaded 2-core machine (it takes about a second).
const RECOVERY: Duration = Duration::from_secs(60);

/// The two tests read every socket of the process: one at a time, so that neither
/// sees the other's short-lived probes of the broker (`pulsar_token_file`).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A TCP socket of this process connected to the broker.
struct BrokerSocket {
    /// Its inode (`socket:[inode]` in `/proc/self/fd`): a new connection has a new one.
    inode: String,
    /// Its descriptor when it was listed.
    fd: i32,
    /// Whether `TCP_NODELAY` is set on it.
    nodelay: bool,
}

/// The sockets of this process connected to 127.0.0.1:`port`.
fn broker_sockets(port: u16) -> Vec<BrokerSocket> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd readable") {
        let entry = entry.expect("an fd entry");
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue; // closed since the listing
        };
        let target = target.to_string_lossy();
        let Some(inode) = target.strip_prefix("socket:") else {
            continue;
        };
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue; // the listing's own descriptor has a number too; nothing else
        };
        // SAFETY: only borrowed for the two getsockopt calls below, never closed here;
        // the crate's connection owns it. Were it closed and its number reused since
        // the read_link, the calls fail (skipped) or read another socket of this
        // process, which the peer check filters like any other.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = SockRef::from(&borrowed);
        let Some(peer) = socket.peer_addr().ok().and_then(|a| a.as_socket()) else {
            continue; // not connected: a listener, a Unix socket
        };
        if peer.ip().is_loopback() && peer.port() == port {
            if let Ok(nodelay) = socket.tcp_nodelay() {
                found.push(BrokerSocket {
                    inode: inode.to_string(),
                    fd,
                    nodelay,
                });
            }
        }
    }
    found
}

/// Asserts that every socket in `sockets` has `TCP_NODELAY` set.
fn assert_nodelay(sockets: &[BrokerSocket], what: &str) {
    let nagle: Vec<_> = sockets
        .iter()
        .filter(|s| !s.nodelay)
        .map(|s| &s.inode)
        .collect();
    assert!(
        nagle.is_empty(),
        "{what}: {} of {} broker connections have Nagle on (TCP_NODELAY unset): {nagle:?}; \
         is the [patch] of vendor/pulsar still in Cargo.toml?",
        nagle.len(),
        sockets.len()
    );
}

/// Enters `client` and waits for its first move: every client of the server is
/// connected and in use.
async fn enter_and_move(client: &mut Client) {
    client.enter().await;
    let step = free_neighbour(client);
    client.move_to(step.x, step.y).await;
}

/// Sends a new move every second until one is answered (validated or snapped back)
/// on `client`'s world socket; panics after `within`. Returns how long it took.
async fn moves_again(client: &mut Client, within: Duration) -> Duration {
    let started = Instant::now();
    let first = client.generation + 1;
    let id = client.id.to_string();
    loop {
        assert!(
            started.elapsed() < within,
            "no move of {} answered within {within:?} of its instance losing the broker",
            client.name
        );
        client.generation += 1;
        let step = free_neighbour(client);
        client
            .send(
                json!({"messageType": "player", "payload": {"x": step.x, "y": step.y,
                "h": false, "generation": client.generation, "name": client.name}}),
            )
            .await;
        let until = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Some(frame)) =
            tokio::time::timeout_at(until, next_text(&mut client.world)).await
        {
            client.learn(&frame);
            if frame["messageType"] == "player"
                && frame["playerID"] == id.as_str()
                && frame["payload"]["generation"].as_i64() >= Some(first)
            {
                client.at = Some(cell_of(&frame));
                return started.elapsed();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broker_connection_of_a_cluster_instance_has_nagle_off_also_after_reconnecting() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_support::cassandra::cassandra(dir.path());
    settings.pulsar = helpers::pulsar(dir.path()).pulsar;
    settings.cluster = true;
    create_command_topic(&settings.pulsar.topic);
    let app = start(settings, dir).await;
    let mut ana = Client::connect(&app, "Ana").await;
    enter_and_move(&mut ana).await;

    let before = broker_sockets(BROKER_PORT);
    assert!(
        before.len() >= CLUSTER_CLIENTS,
        "expected a connection for each of the instance's {CLUSTER_CLIENTS} clients, found {}",
        before.len()
    );
    assert_nodelay(&before, "at start");

    // cut every broker connection (as a broker restart or a network fault would): the
    // crate notices the end of the stream and connects again
    for socket in &before {
        // SAFETY: as in broker_sockets; a shutdown does not close the descriptor
        let borrowed = unsafe { BorrowedFd::borrow_raw(socket.fd) };
        let _ = SockRef::from(&borrowed).shutdown(Shutdown::Both);
    }
    let took = moves_again(&mut ana, RECOVERY).await;
    println!("a move answered {took:?} after the broker connections were cut");

    // every client is connected again (the cluster pings its partitions twice a second,
    // so its clients reconnect unasked)
    let old: HashSet<_> = before.iter().map(|s| s.inode.clone()).collect();
    let deadline = Instant::now() + RECOVERY;
    let renewed = loop {
        let now: Vec<_> = broker_sockets(BROKER_PORT)
            .into_iter()
            .filter(|s| !old.contains(&s.inode))
            .collect();
        if now.len() >= CLUSTER_CLIENTS || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        renewed.len() >= CLUSTER_CLIENTS,
        "{} new broker connections within {RECOVERY:?} of the cut, expected {CLUSTER_CLIENTS}",
        renewed.len()
    );
    assert_nodelay(&renewed, "after reconnecting");
    moves_again(&mut ana, RECOVERY).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_s_tls_connections_have_nagle_off() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let app = spawn_app(helpers::pulsar_tls).await;
    let mut ana = Client::connect(&app, "Ana").await;
    enter_and_move(&mut ana).await;
    let sockets = broker_sockets(BROKER_TLS_PORT);
    // the world bus's producer and consumer clients
    assert!(
        sockets.len() >= 2,
        "expected the bus's two TLS connections, found {}",
        sockets.len()
    );
    assert_nodelay(&sockets, "over TLS");
    app.shutdown().await;
}
