//! What a long broker outage does to the Pulsar bus: publishes a numbered frame every
//! 50 ms while `services/pulsar/down.sh` stops the local broker for OUTAGE seconds and
//! `up.sh` starts it again, then reports which frames came back through the fan-out:
//! lost, duplicated, out of order, and how long after the broker's return delivery
//! resumed. Not a test: it prints figures.
//!
//! ```text
//! bash services/pulsar/up.sh
//! cargo run -p drapetisca --example pulsar_outage [-- OUTAGE]
//! ```

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bus_pulsar::PulsarBus;
use bus_pulsar::PulsarOptions;
use game_core::bus::{Bus, Fanout, Frame};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    drapetisca::telemetry::init("error");
    let outage: u64 = match std::env::args().nth(1) {
        Some(s) => s.parse().context("OUTAGE is a number of seconds")?,
        None => 45,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let options = PulsarOptions {
        url: Some("pulsar://127.0.0.1:6650".into()),
        topic: format!(
            "persistent://public/default/outage-{}",
            protocol::Uuid::new_v4()
        ),
        token_file: Some(root.join(".services/pulsar/token")),
        ..Default::default()
    };
    let fanout = Fanout::new(1 << 16, Duration::ZERO);
    // one game: the bus's frames are per game
    let game = protocol::Uuid::new_v4();
    let mut arrivals = fanout.subscribe(game);
    let bus = PulsarBus::connect(
        &options,
        fanout.clone(),
        std::sync::Arc::new(game_core::hook::Open),
        &protocol::Uuid::new_v4().to_string(),
    )
    .await?;

    let service = |name: &str| {
        let script = root.join("services/pulsar").join(name);
        async move {
            let status =
                tokio::task::spawn_blocking(move || Command::new("bash").arg(script).status())
                    .await??;
            ensure!(status.success(), "services/pulsar script failed");
            anyhow::Ok(())
        }
    };
    let publisher = {
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let bus = std::sync::Arc::new(bus);
        let publishing = bus.clone();
        let task = tokio::spawn(async move {
            let mut n = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while !stopped.is_cancelled() {
                tick.tick().await;
                publishing.publish(game, Frame::from(format!(
                    r#"{{"messageType":"chat","playerID":"x","payload":{{"id":"{n}","name":"n","text":"t"}}}}"#
                )), n);
                n += 1;
            }
            n
        });
        (stop, task, bus)
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    service("down.sh").await?;
    println!("broker down for {outage} s");
    tokio::time::sleep(Duration::from_secs(outage)).await;
    service("up.sh").await?;
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (stop, task, bus) = publisher;
    stop.cancel();
    let published = task.await?;
    bus.close().await;

    let mut seen = Vec::new();
    let mut status = Vec::new();
    while let Ok(frame) = arrivals.try_recv() {
        let value: serde_json::Value = serde_json::from_slice(frame.json())?;
        match value["messageType"].as_str() {
            Some("chat") => seen.push(value["payload"]["id"].as_str().unwrap().parse::<u64>()?),
            Some("status") => status.push(value["payload"]["bus_ok"].as_bool().unwrap()),
            _ => {}
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    let duplicates = seen.len() - sorted.len();
    let out_of_order = seen.windows(2).filter(|w| w[1] < w[0]).count();
    let lost: Vec<u64> = (0..published)
        .filter(|n| sorted.binary_search(n).is_err())
        .collect();
    println!(
        "published {published}, delivered {}, duplicated {duplicates}, out of order {out_of_order}, lost {} {:?}",
        seen.len(),
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    println!(
        "status changes: {status:?}; {:?} since the broker was back",
        back.elapsed()
    );
    Ok(())
}
