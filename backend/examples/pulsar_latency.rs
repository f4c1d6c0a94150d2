//! The latency the Pulsar bus adds: time from `Bus::publish` to the frame's arrival in
//! this instance's fan-out (producer -> broker -> bookie journal -> broker -> consumer),
//! for world frames the size of a player move. Not a test: it prints figures.
//!
//! ```text
//! bash services/pulsar/up.sh
//! cargo run --release -p drapetisca --example pulsar_latency [-- FRAMES]
//! ```
//!
//! Two runs: one frame at a time (each published once the previous arrived: the latency
//! a lone move sees), then a burst of every frame at once (what queueing adds under
//! load). Reads `DRAPETISCA_PULSAR_URL` (default the local broker) and
//! `DRAPETISCA_PULSAR_TOKEN_FILE` (default `.services/pulsar/token`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use bus_pulsar::PulsarBus;
use bus_pulsar::PulsarOptions;
use game_core::bus::{Bus, Fanout, Frame, Wire};
use tokio::sync::broadcast;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    drapetisca::telemetry::init("warn");
    let frames: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("FRAMES must be a number")?,
        None => 5000,
    };
    let url =
        std::env::var("DRAPETISCA_PULSAR_URL").unwrap_or_else(|_| "pulsar://127.0.0.1:6650".into());
    let token_file = std::env::var_os("DRAPETISCA_PULSAR_TOKEN_FILE")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.services/pulsar/token"));
    let options = PulsarOptions {
        url: Some(url.clone()),
        topic: format!(
            "persistent://public/default/latency-{}",
            protocol::Uuid::new_v4()
        ),
        token_file: Some(token_file),
        ..Default::default()
    };
    let fanout = Fanout::new(frames + 16, Duration::ZERO);
    // one game: the bus's frames are per game
    let game = protocol::Uuid::new_v4();
    let mut arrivals = fanout.subscribe(game);
    let bus = PulsarBus::connect(
        &options,
        fanout.clone(),
        std::sync::Arc::new(game_core::hook::Open),
        &protocol::Uuid::new_v4().to_string(),
    )
    .await
    .context("cannot start the pulsar bus (is the broker up? bash services/pulsar/up.sh)")?;
    println!(
        "pulsar bus latency, publish -> local fan-out, {frames} frames of a player move, {url}"
    );

    let mut one_by_one = Vec::with_capacity(frames);
    for i in 0..frames {
        let sent = Instant::now();
        bus.publish(game, move_frame(i), i as u64);
        wait_for(&mut arrivals, i).await?;
        one_by_one.push(sent.elapsed());
    }
    report("one at a time", one_by_one, None);

    let base = frames;
    let started = Instant::now();
    let mut sent_at = Vec::with_capacity(frames);
    for i in 0..frames {
        sent_at.push(Instant::now());
        bus.publish(game, move_frame(base + i), (base + i) as u64);
    }
    let mut burst = Vec::with_capacity(frames);
    for (i, sent) in sent_at.iter().enumerate() {
        wait_for(&mut arrivals, base + i).await?;
        burst.push(sent.elapsed());
    }
    report("burst", burst, Some(started.elapsed()));
    bus.close().await;
    Ok(())
}

/// A world frame the size and shape of a validated move, numbered by `generation`.
fn move_frame(generation: usize) -> Frame {
    Frame::from(format!(
        r#"{{"messageType":"player","playerID":"5b7e0c8e-8a57-4a4e-9c1d-2f5a3d9b6e01","payload":{{"x":12,"y":7,"h":false,"generation":{generation},"name":"bench"}}}}"#
    ))
}

/// Waits for frame `generation` in the fan-out, skipping status frames.
async fn wait_for(
    arrivals: &mut broadcast::Receiver<Wire>,
    generation: usize,
) -> anyhow::Result<()> {
    let wanted = format!("\"generation\":{generation},");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
            .await
            .context("a frame did not come back within 30 s")?
            .context("the fan-out closed")?;
        let frame = String::from_utf8_lossy(frame.json());
        if frame.contains(&wanted) {
            return Ok(());
        }
        anyhow::ensure!(
            !frame.contains("\"messageType\":\"player\""),
            "frames came back out of order: wanted {generation}, got {frame}"
        );
    }
}

fn report(what: &str, mut latencies: Vec<Duration>, took: Option<Duration>) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    print!(
        "{what:>14}: p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(1.0)),
    );
    match took {
        Some(took) => println!(
            "  ({:.0} frames/s)",
            latencies.len() as f64 / took.as_secs_f64()
        ),
        None => println!(),
    }
}
