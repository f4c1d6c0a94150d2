//! What resuming the world stream costs (docs/protocol.md, "Resuming the world
//! stream"; docs/benchmarks.md, "Resuming after a break"): a player whose one socket
//! drops for a while comes back naming the last update it saw. Not a test: it prints
//! figures.
//!
//! ```text
//! cargo run --release -p drapetisca --example resume_bench [-- PLAYERS RATE BREAK_MS TRIALS]
//! ```
//!
//! A server in this process (embedded bus and store, loopback), `PLAYERS - 1` bots on
//! the one socket moving `RATE` times a second in all (default 100 players, 800
//! updates a second), and one more player that, `TRIALS` times (default 20): enters
//! with a token (its brief is the *full brief*, measured), reads the stream for 0.5 s,
//! drops its socket without a close frame, waits `BREAK_MS` (default 2000), and opens
//! its one socket again with `?after=` and enters with its token. Measured per trial:
//! the bytes the server sent for the return (the `resumed` batch with the missed
//! updates, and the reply to `entering`), and the time from starting the reconnection
//! (TCP connect) until both are read (caught up). The same return without `?after=`
//! (today's brief) is measured once per trial too, for comparison.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use protocol::Uuid;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use drapetisca::Settings;
use test_support::app::{open_at, start, Ws};
use test_support::resume::Bots;

/// What one return cost.
struct Return {
    /// Payload bytes the server sent until caught up.
    bytes: usize,
    /// From the reconnection's start until caught up.
    took: Duration,
    /// World updates received as missed (resumed) or none (a brief).
    missed: usize,
    /// Whether the stream resumed.
    resumed: bool,
}

fn arg(n: usize, default: u64) -> anyhow::Result<u64> {
    match std::env::args().nth(n) {
        Some(v) => v
            .parse()
            .with_context(|| format!("argument {n} must be a number")),
        None => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let players = arg(1, 100)? as usize;
    let rate = arg(2, 800)? as u32;
    let break_ms = arg(3, 2000)?;
    let trials = arg(4, 20)? as usize;
    anyhow::ensure!(
        players >= 2,
        "at least 2 players: bots and the one that drops"
    );
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::local(dir.path());
    settings.guard.move_limit = "off".parse().expect("a rate");
    settings.guard.max_sockets_per_address = players * 4;
    let app = start(settings, dir).await;
    let bots = players - 1;
    // below one move a second per bot, some bots stand still
    let (movers, per_bot) = if rate as usize >= bots {
        (bots, rate / bots as u32)
    } else {
        (rate as usize, 1)
    };
    println!(
        "resume_bench: {players} players ({movers} bots at {per_bot} moves/s = {} updates/s, \
         {} standing still), break {break_ms} ms, {trials} trials, loopback, in-process server",
        per_bot * movers as u32,
        bots - movers
    );
    let address = std::slice::from_ref(&app.address);
    let running = Bots::start(address, None, movers, per_bot).await;
    let still = Bots::start(address, None, bots - movers, 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut briefs = Vec::new();
    let mut resumes = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..trials {
        let id = Uuid::new_v4();
        let mut ws = open_at(&app.address, &protocol::one_route(id)).await;
        let entering =
            json!({"messageType": "entering", "payload": {"name": "Pia", "wantToken": true}});
        ws.send(Message::text(entering.to_string())).await?;
        let (brief_bytes, token) = read_brief(&mut ws, id).await?;
        briefs.push(brief_bytes);
        let last = read_for(&mut ws, Duration::from_millis(500)).await?;

        // dropped, then back naming the last update
        drop(ws);
        tokio::time::sleep(Duration::from_millis(break_ms)).await;
        let resumed = come_back(&app.address, id, &token, Some(last)).await?;
        // and once more without naming it: the brief, as before
        tokio::time::sleep(Duration::from_millis(200)).await;
        let brief = come_back(&app.address, id, &token, None).await?;
        resumes.push(resumed);
        plain.push(brief);
    }
    let moves = running.stop().await;
    still.stop().await;
    app.shutdown().await;

    let resumed = resumes.iter().filter(|r| r.resumed).count();
    let mut bytes: Vec<usize> = resumes.iter().map(|r| r.bytes).collect();
    let mut took: Vec<Duration> = resumes.iter().map(|r| r.took).collect();
    let mut missed: Vec<usize> = resumes.iter().map(|r| r.missed).collect();
    let mut plain_bytes: Vec<usize> = plain.iter().map(|r| r.bytes).collect();
    let mut plain_took: Vec<Duration> = plain.iter().map(|r| r.took).collect();
    let mut full: Vec<usize> = briefs.clone();
    let brief = median(&mut full);
    let resume_bytes = median(&mut bytes);
    println!("bots moved {moves} times; {resumed} of {trials} returns resumed");
    println!(
        "full brief (first entering): median {brief} bytes; a return without after=: median {} bytes, p99 {:.1} ms",
        median(&mut plain_bytes),
        ms(percentile(&mut plain_took, 0.99))
    );
    println!(
        "resumed return: median {resume_bytes} bytes ({:.1}% of the full brief), max {} bytes; missed updates median {}",
        100.0 * resume_bytes as f64 / brief as f64,
        bytes.iter().max().unwrap_or(&0),
        median(&mut missed)
    );
    println!(
        "reconnect to caught up: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&mut took, 0.5)),
        ms(percentile(&mut took, 0.99)),
        ms(took.iter().max().copied().unwrap_or_default())
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &mut [usize]) -> usize {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// The nearest-rank percentile `p` of `values`.
fn percentile(values: &mut [Duration], p: f64) -> Duration {
    values.sort_unstable();
    let rank = ((values.len() as f64 * p).ceil() as usize).clamp(1, values.len().max(1));
    values.get(rank - 1).copied().unwrap_or_default()
}

/// The next text message.
async fn next(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(_))) => continue,
            other => anyhow::bail!("the socket ended: {other:?}"),
        }
    }
}

/// Whether `frame` is `id`'s own position (the last frame of a brief).
fn own(frame: &Value, id: Uuid) -> bool {
    frame["messageType"] == "player" && frame["playerID"] == id.to_string()
}

/// Reads the direct replies of a first entering up to the own position: their bytes
/// (the full brief) and the token.
async fn read_brief(ws: &mut Ws, id: Uuid) -> anyhow::Result<(usize, String)> {
    let (mut bytes, mut token) = (0, None);
    loop {
        let text = next(ws).await?;
        if text.starts_with('[') {
            continue; // world batches
        }
        bytes += text.len();
        let frame: Value = serde_json::from_str(&text)?;
        if frame["messageType"] == "token" {
            token = frame["payload"]["token"].as_str().map(str::to_owned);
        }
        if own(&frame, id) {
            return Ok((bytes, token.context("a token")?));
        }
    }
}

/// Reads the stream for `time`; the number of the last update seen.
async fn read_for(ws: &mut Ws, time: Duration) -> anyhow::Result<u64> {
    let mut last = None;
    let until = Instant::now() + time;
    while let Ok(text) = tokio::time::timeout_at(until.into(), next(ws)).await {
        let text = text?;
        if text.starts_with('[') {
            let batch: Vec<Value> = serde_json::from_str(&text)?;
            last = batch.iter().rev().find_map(|f| f["seq"].as_u64()).or(last);
        }
    }
    last.context("no numbered update in time")
}

/// Opens the one socket of `id` again (naming `after`), enters with `token`, and
/// reads until caught up: the `resumed` batch (when resuming) and the reply to
/// `entering` (the own position, or the whole brief). Live batches that come
/// meanwhile are not counted: they are the stream going on, which the player would get
/// whether it dropped or not.
async fn come_back(
    address: &str,
    id: Uuid,
    token: &str,
    after: Option<u64>,
) -> anyhow::Result<Return> {
    let path = match after {
        Some(after) => format!("{}?after={after}", protocol::one_route(id)),
        None => protocol::one_route(id),
    };
    let started = Instant::now();
    let mut ws = open_at(address, &path).await;
    let entering = json!({"messageType": "entering", "payload": {"name": "Pia", "token": token}});
    ws.send(Message::text(entering.to_string())).await?;
    let (mut bytes, mut missed) = (0, 0);
    let (mut resumed, mut entered) = (false, false);
    let mut first = true;
    while !(entered && (resumed || after.is_none() || !first)) {
        let text = next(&mut ws).await?;
        if text.starts_with('[') {
            let batch: Vec<Value> = serde_json::from_str(&text)?;
            if first && batch.first().is_some_and(|f| f["messageType"] == "resumed") {
                resumed = true;
                bytes += text.len();
                missed = batch.len() - 1;
            }
        } else {
            bytes += text.len();
            entered |= own(&serde_json::from_str(&text)?, id);
        }
        first = false;
    }
    let took = started.elapsed();
    let _ = ws.close(None).await;
    Ok(Return {
        bytes,
        took,
        missed,
        resumed,
    })
}
