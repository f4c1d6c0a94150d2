//! Cassandra stopped mid-game: play goes on, and once Cassandra is back the final
//! positions reach the table. This binary stops and restarts the local Cassandra
//! (`services/cassandra/down.sh`, `up.sh`), so it holds this one test: cargo runs test
//! binaries one after another, so no other test sees Cassandra go away.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use test_support::app::{spawn_app, Client, TestApp};
use test_support::cassandra::{self as support, quiet_neighbour, table_rows};

/// Runs `services/cassandra/<action>.sh`, failing the test if it fails.
fn service(action: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../services/cassandra")
        .join(format!("{action}.sh"));
    let status = Command::new("bash")
        .arg(&script)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(status.success(), "{} failed: {status}", script.display());
}

/// Brings Cassandra back if the test fails while it is down, so that whatever runs next
/// finds it up.
struct BringBackOnDrop {
    /// Still down: start it when dropped.
    armed: bool,
}

impl BringBackOnDrop {
    fn up_now(&mut self) {
        service("up");
        self.armed = false;
    }
}

impl Drop for BringBackOnDrop {
    fn drop(&mut self) {
        if self.armed {
            service("up");
        }
    }
}

/// The value of a counter of `/metrics`.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let (_, body) = app.get("/metrics").await;
    body.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .trim()
        .parse()
        .expect("a number")
}

/// Takes a step and checks that the other player sees it.
async fn step_seen(mover: &mut Client, watcher: &mut Client) {
    let target = quiet_neighbour(mover);
    assert_eq!(mover.move_to(target.x, target.y).await, target);
    watcher.sees_move(mover.id, mover.generation).await;
}

#[tokio::test]
async fn play_goes_on_while_cassandra_is_down_and_the_last_positions_land_when_it_is_back() {
    let app = spawn_app(support::cassandra).await;
    let keyspace = app.settings.cassandra.keyspace.to_string();
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    step_seen(&mut ana, &mut bob).await;

    let mut guard = BringBackOnDrop { armed: true };
    service("down");
    assert!(
        std::net::TcpStream::connect(support::NODE).is_err(),
        "Cassandra still answers on {} after down.sh: it was not started from this checkout \
         (its pid file lives under another checkout's .services/cassandra); stop that one \
         and run `cargo xtask services up` here",
        support::NODE
    );
    let failures_before = metric(&app, "drapetisca_store_write_failures_total").await;
    let started = Instant::now();
    for _ in 0..4 {
        step_seen(&mut ana, &mut bob).await;
        step_seen(&mut bob, &mut ana).await;
    }
    // a newcomer still gets the whole brief: the room never asks the store
    let mut cleo = Client::connect(&app, "Cleo").await;
    let brief = cleo.enter().await;
    assert!(brief.iter().filter(|f| f["messageType"] == "brick").count() == 22);
    // moves do not wait for the store: a room that did would not answer until
    // Cassandra's return, and each step above would fail after its own wait; how long
    // they took is a figure, not a goal (a loaded machine is slower)
    println!(
        "8 moves and an entry took {:?} with Cassandra down",
        started.elapsed()
    );
    // the writer notices and keeps retrying
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&app, "drapetisca_store_write_failures_total").await <= failures_before {
        assert!(
            Instant::now() < deadline,
            "no failed store write seen while Cassandra is down"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(metric(&app, "drapetisca_store_backlog").await > 0.0);

    guard.up_now();
    // once back, the rows written behind the game's back reach the table
    let (ana_at, bob_at) = (ana.at.unwrap(), bob.at.unwrap());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = table_rows(&keyspace).await;
        let at = |id: protocol::Uuid| {
            rows.iter()
                .find(|r| r.object_id == id)
                .map(|r| protocol::Cell::new(r.x, r.y))
        };
        if at(ana.id) == Some(ana_at) && at(bob.id) == Some(bob_at) && at(cleo.id).is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the last positions did not reach the table within 90 s of Cassandra's return"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(metric(&app, "drapetisca_store_backlog").await, 0.0);
    app.shutdown().await;
}
