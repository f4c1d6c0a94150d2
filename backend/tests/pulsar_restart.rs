//! The Pulsar broker stopped and started mid-game, with `services/pulsar/down.sh` and
//! `up.sh`: a test binary of its own, since every other Pulsar test would fail while the
//! broker is down. Needs the local broker running (`cargo xtask services up`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use test_support::app::{self as helpers, free_neighbour, spawn_app, Client};

/// How long after the broker is back play may take to resume: more room than the
/// usual patience for a loaded machine, yet under the server's 30 s heartbeat timeout
/// (this test's client answers pings only when it next writes, so a longer silent wait
/// ends with the server closing the socket); how long it took is printed, a figure
/// rather than a goal.
const RESUME_WITHIN: Duration = Duration::from_secs(25);

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../services/pulsar")
        .join(name)
}

/// Runs `services/pulsar/<name>` and checks it succeeded.
async fn service(name: &'static str) {
    let status = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script(name))
            .status()
            .expect("bash runs")
    })
    .await
    .unwrap();
    assert!(status.success(), "services/pulsar/{name} failed");
}

/// Starts the broker again if the test fails while it is down, so that the tests run
/// after this one find it up.
struct BrokerBack {
    /// Whether the broker is down now.
    down: bool,
}

impl Drop for BrokerBack {
    fn drop(&mut self) {
        if self.down {
            let _ = Command::new("bash").arg(script("up.sh")).status();
        }
    }
}

fn is_status(frame: &Value, ok: bool) -> bool {
    frame["messageType"] == "status" && frame["payload"]["bus_ok"] == ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_game_delays_updates_then_play_resumes_in_order() {
    let app = spawn_app(helpers::pulsar).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    let bob_id = bob.id.to_string();
    ana.world_until("Bob entering", |f| {
        f["messageType"] == "player" && f["playerID"] == bob_id
    })
    .await;
    let step = free_neighbour(&ana);
    ana.move_to(step.x, step.y).await;
    bob.sees_move(ana.id, 1).await;

    let mut broker = BrokerBack { down: true };
    service("down.sh").await;

    // validated while the broker is away; it reaches nobody yet, and the world sockets
    // are told that updates are delayed
    let during = free_neighbour(&ana);
    ana.generation += 1;
    let outage_generation = ana.generation;
    ana.send(
        json!({"messageType": "player", "payload": {"x": during.x, "y": during.y,
        "h": false, "generation": outage_generation, "name": "Ana"}}),
    )
    .await;
    ana.world_until("the delay notice", |f| is_status(f, false))
        .await;
    bob.world_until("the delay notice", |f| is_status(f, false))
        .await;

    service("up.sh").await;
    broker.down = false;
    let back = Instant::now();

    // the move made during the outage arrives by itself, then the all-clear
    let own = ana
        .sees_move_within(RESUME_WITHIN, ana.id, outage_generation)
        .await;
    assert_eq!(helpers::cell_of(&own), during);
    ana.at = Some(during);
    let resumed = back.elapsed();
    ana.world_until("the all-clear", |f| is_status(f, true))
        .await;

    // every move after the restart reaches Bob once, in order
    let last = outage_generation + 6;
    while ana.generation < last {
        let next = free_neighbour(&ana);
        assert_eq!(ana.move_to(next.x, next.y).await, next);
    }
    let ana_id = ana.id.to_string();
    let seen = RefCell::new(Vec::new());
    bob.world_until("Ana's last move", |f| {
        if f["messageType"] == "player" && f["playerID"] == ana_id {
            let generation = f["payload"]["generation"].as_i64().unwrap();
            // frames from before the outage may still wait in Bob's backlog
            if generation >= outage_generation {
                seen.borrow_mut().push(generation);
            }
            generation == last
        } else {
            false
        }
    })
    .await;
    assert_eq!(
        seen.into_inner(),
        (outage_generation..=last).collect::<Vec<_>>(),
        "Bob sees each of Ana's moves once, in order"
    );
    bob.world_until("the all-clear", |f| is_status(f, true))
        .await;
    println!("play resumed {resumed:?} after the broker was back");
    app.shutdown().await;
}
