//! Cassandra away for longer than the old replay window (15 s) while a game goes on
//! across two instances of the release binary; the owner is killed (SIGKILL) before
//! Cassandra comes back, so the moves made meanwhile were never stored. Once Cassandra
//! is back, the other instance takes the game over from the game's checkpoint: every
//! player is where the streams last showed them, and the game moves again.
//!
//! Cassandra goes away for these two instances only: they reach it through a TCP proxy
//! that this test cuts (every connection reset, new ones refused, as a stopped node)
//! and opens again, so the shared Cassandra, and every test running on it meanwhile,
//! stays up. It is a binary of its own all the same, like `cassandra_outage`: a test
//! of a store outage should never share a process with others.

#[allow(dead_code)]
#[path = "api/cluster/instances.rs"]
mod instances;
mod helpers {
    //! The shared test support, under the name `instances` uses.
    pub use test_support::app::*;
}
mod cassandra {
    //! As in the `api` binary.
    pub use test_support::cassandra as support;
}

use std::time::{Duration, Instant};

use protocol::{Cell, Uuid};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use helpers::Client;
use instances::{first_owner, owner_after, Deployment};
use test_support::cassandra::{quiet_neighbour, table_rows, NODE};

/// How long Cassandra stays away: longer than the 15 s the take-over used to replay.
const OUTAGE: Duration = Duration::from_secs(20);

/// How long after Cassandra's return the game must move again: the driver reconnects
/// with a backoff and the take-over retries every 2 s at most; generous for a loaded
/// 2-core machine (the time is printed).
const LIVENESS: Duration = Duration::from_secs(90);

/// A TCP proxy in front of the test Cassandra that the test can cut and open again.
struct Proxy {
    /// The port the instances connect to.
    port: u16,
    /// Cancelled to cut: the listener closes and every connection is dropped.
    open: CancellationToken,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let open = CancellationToken::new();
        tokio::spawn(serve(listener, open.clone()));
        Proxy { port, open }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Cassandra goes away for whoever connects through the proxy.
    fn cut(&self) {
        self.open.cancel();
    }

    /// Cassandra comes back, on the same port.
    async fn restore(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot listen again: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        self.open = CancellationToken::new();
        tokio::spawn(serve(listener, self.open.clone()));
    }
}

/// Forwards every connection to Cassandra until `open` is cancelled.
async fn serve(listener: TcpListener, open: CancellationToken) {
    loop {
        let (mut inbound, _) = tokio::select! {
            _ = open.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        let open = open.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(NODE).await else {
                return;
            };
            tokio::select! {
                _ = open.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
            }
        });
    }
}

/// `mover` takes a step without catching food, and `watcher` sees it.
async fn step_seen(mover: &mut Client, watcher: &mut Client) {
    let target = quiet_neighbour(mover);
    assert_eq!(mover.move_to(target.x, target.y).await, target);
    watcher.sees_move(mover.id, mover.generation).await;
}

// several threads: the proxy's tasks run while the test blocks on an instance's start
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_over_after_a_store_outage_longer_than_the_old_window_loses_no_validated_move() {
    let deployment = Deployment::new();
    let mut proxy = Proxy::start().await;
    let nodes = proxy.address();
    let settings = [("DRAPETISCA_CASSANDRA_NODES", nodes.as_str())];
    let mut instances = vec![
        Some(deployment.start_with("one", &settings)),
        Some(deployment.start_with("two", &settings)),
    ];
    let (owner, epoch) = {
        let both: Vec<&instances::Instance> = instances.iter().flatten().collect();
        first_owner(&both).await
    };
    let survivor = 1 - owner;
    let address = |i: usize, instances: &[Option<instances::Instance>]| {
        instances[i].as_ref().unwrap().address.clone()
    };
    // Ana plays on the owner, Bob on the other instance
    let mut ana = Client::connect_at(&address(owner, &instances), Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect_at(&address(survivor, &instances), Uuid::new_v4(), "Bob").await;
    bob.enter().await;
    for _ in 0..3 {
        step_seen(&mut ana, &mut bob).await;
        step_seen(&mut bob, &mut ana).await;
    }
    // the rows (and the game's checkpoint) reach the store while it is there
    tokio::time::sleep(Duration::from_secs(2)).await;

    proxy.cut();
    let cut = Instant::now();
    // Ana's last moves are validated right after Cassandra went away; then she stands
    // still, so they are older than the old window when the game is taken over
    for _ in 0..2 {
        step_seen(&mut ana, &mut bob).await;
    }
    let ana_at = ana.at.unwrap();
    // Bob plays on, for longer than the old window
    let mut bob_moves = 0;
    while cut.elapsed() < OUTAGE {
        step_seen(&mut bob, &mut ana).await;
        bob_moves += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let bob_at = bob.at.unwrap();
    // what the streams showed last: each player's own and the other's
    assert_eq!(bob.view.players.get(&ana.id.to_string()), Some(&ana_at));
    assert_eq!(ana.view.players.get(&bob.id.to_string()), Some(&bob_at));
    println!(
        "with Cassandra away: Ana's 2 moves, then {bob_moves} of Bob's over {:?}",
        cut.elapsed()
    );

    // the owner dies with the moves it could not store
    instances[owner].take().unwrap().kill();
    let (ana_id, ana_generation) = (ana.id, ana.generation);
    drop(ana);
    proxy.restore().await;
    let back = Instant::now();

    let taken = {
        let left: Vec<&instances::Instance> = instances.iter().flatten().collect();
        owner_after(&left, epoch, LIVENESS).await
    };
    println!(
        "taken over at epoch {} {:?} after Cassandra came back",
        taken.1,
        back.elapsed()
    );
    // Ana's page reconnects to the survivor and re-enters: where the streams last
    // showed her (with the old window she came back where the store last had her)
    let mut again = Client::connect_at(&address(survivor, &instances), ana_id, "Ana").await;
    again.generation = ana_generation;
    again.enter().await;
    assert_eq!(
        again.at,
        Some(ana_at),
        "Ana comes back where her last validated move put her, {:?} before the take-over",
        cut.elapsed()
    );
    // and the game moves again
    step_seen(&mut bob, &mut again).await;
    let moved = back.elapsed();
    println!("the game moved again {moved:?} after Cassandra came back");
    assert!(moved < LIVENESS, "the game stood still for {moved:?}");
    let bob_at = bob.at.unwrap();

    // a newcomer finds everyone where the streams last showed them
    let mut cleo = Client::connect_at(&address(survivor, &instances), Uuid::new_v4(), "Cleo").await;
    cleo.enter().await;
    assert_eq!(cleo.view.players.get(&ana_id.to_string()), Some(&ana_at));
    assert_eq!(cleo.view.players.get(&bob.id.to_string()), Some(&bob_at));

    // and so does the store, once the new owner wrote its rows
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = table_rows(&deployment.keyspace).await;
        let at = |id: Uuid| {
            rows.iter()
                .find(|r| r.game_id == deployment.game && r.object_id == id)
                .map(|r| Cell::new(r.x, r.y))
        };
        if at(ana_id) == Some(ana_at) && at(bob.id) == Some(bob_at) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stored rows do not show Ana at {ana_at:?} and Bob at {bob_at:?}: {:?} {:?}",
            at(ana_id),
            at(bob.id)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
