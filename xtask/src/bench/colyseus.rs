//! Another game server beside ours (issue 22): Colyseus' state sync (`bench/colyseus`,
//! Node) and our one socket, the same game shape at 800 players x 1 move/s, at the same
//! message interval per client (Colyseus' patch interval, our `--world-batch-ms`), one
//! run each in turn on the same machine. What it compares is the server's CPU per
//! WebSocket message: the kernel's share of a message is the same for both, so the
//! difference is what each server adds to it.

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use loadgen_report::Report;
use serde::Deserialize;

use super::markdown::{ms, percent, server, Table};

/// The intervals compared: Colyseus' default patch rate, and about a display frame.
pub const INTERVALS_MS: [u64; 2] = [50, 16];
/// Players and moves per second per player.
pub const PLAYERS: u32 = 800;
pub const RATE: u32 = 1;

/// What `bench/colyseus/run.mjs --json` prints (the fields the table uses).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Theirs {
    pub server_cpu_pct: f64,
    /// WebSocket messages the server wrote per second, counted at its transport's send.
    pub msgs_per_s: f64,
    pub us_per_msg: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub bots_cpu_pct: f64,
    pub versions: Versions,
}

#[derive(Debug, Deserialize)]
pub struct Versions {
    pub core: String,
}

/// One interval's pair of runs.
pub struct Pair {
    pub interval_ms: u64,
    pub ours: Report,
    pub theirs: Theirs,
}

/// Installs the harness's packages (from its lock file) unless they are there.
pub fn prepare(root: &Path) -> Result<()> {
    let dir = root.join("bench/colyseus");
    if dir.join("node_modules/@colyseus/core").is_dir() {
        return Ok(());
    }
    let status = Command::new("npm")
        .arg("ci")
        .current_dir(&dir)
        .status()
        .context("cannot run npm (Node.js is needed for the Colyseus comparison)")?;
    if !status.success() {
        bail!("npm ci in {} failed ({status})", dir.display());
    }
    Ok(())
}

/// One Colyseus run at `interval_ms`, `seconds` long.
pub fn run_theirs(root: &Path, interval_ms: u64, seconds: &str) -> Result<Theirs> {
    let dir = root.join("bench/colyseus");
    let mut command = Command::new("node");
    command
        .arg("run.mjs")
        .args(["--patch-ms", &interval_ms.to_string()])
        .args(["-n", &PLAYERS.to_string(), "-r", &RATE.to_string()])
        .args(["-t", seconds, "--json"])
        .current_dir(&dir);
    let line = super::json_line(
        &mut command,
        &format!("the Colyseus run at {interval_ms} ms"),
    )?;
    let theirs: Theirs = serde_json::from_str(&line).context("not a report of run.mjs")?;
    eprintln!(
        "bench: colyseus-{interval_ms}: server CPU {:.1}%, {:.0} messages/s, {:.2} us/message, p99 {:.1} ms",
        theirs.server_cpu_pct, theirs.msgs_per_s, theirs.us_per_msg, theirs.p99_ms
    );
    Ok(theirs)
}

/// The loadgen arguments of our run at `interval_ms` (one socket, batched).
pub fn our_args(interval_ms: u64, seconds: &str) -> Vec<String> {
    vec![
        "-n".into(),
        PLAYERS.to_string(),
        "-r".into(),
        RATE.to_string(),
        "-t".into(),
        seconds.into(),
        format!("--server-arg=--world-batch-ms={interval_ms}"),
    ]
}

/// Our server's CPU per WebSocket message the bots received in the moving window, us.
pub fn our_us_per_message(r: &Report) -> f64 {
    if r.frames_in_per_s <= 0.0 {
        return f64::NAN;
    }
    server(r).cpu_percent / 100.0 / r.frames_in_per_s * 1e6
}

/// The section's table.
pub fn section(pairs: &[Pair]) -> String {
    let mut s = String::new();
    let w = &mut s;
    // unwrap (every writeln! below): writing to a String cannot fail
    writeln!(w, "### Beside Colyseus: CPU per WebSocket message\n").unwrap();
    let version = pairs
        .first()
        .map_or("?", |p| p.theirs.versions.core.as_str());
    writeln!(
        w,
        "{PLAYERS} players x {RATE} move/s in one game, one run each in turn: our one socket \
         (`--world-batch-ms` = the interval) and Colyseus {version}'s state sync with its \
         `ws` transport and Node bots (`bench/colyseus`, patch interval = the interval). \
         CPU per message: the server's CPU over the measured window divided by the \
         WebSocket messages it sent (ours: received by the bots, replies included; \
         Colyseus: counted at its transport's send). Colyseus' p99 is bound by its Node \
         bots.\n"
    )
    .unwrap();
    let mut table = Table::new(&[
        "interval",
        "server",
        "server CPU",
        "messages/s",
        "CPU per message",
        "p50",
        "p99",
        "bots' CPU",
    ]);
    for p in pairs {
        let r = &p.ours;
        table.row(vec![
            format!("{} ms", p.interval_ms),
            "Drapetisca, one socket".into(),
            percent(server(r).cpu_percent),
            format!("{:.0}", r.frames_in_per_s),
            format!("{:.2} us", our_us_per_message(r)),
            ms(r.to_others.latency.p50_ms),
            ms(r.to_others.latency.p99_ms),
            percent(r.loadgen_cpu_percent),
        ]);
        let t = &p.theirs;
        table.row(vec![
            format!("{} ms", p.interval_ms),
            "Colyseus".into(),
            percent(t.server_cpu_pct),
            format!("{:.0}", t.msgs_per_s),
            format!("{:.2} us", t.us_per_msg),
            ms(t.p50_ms),
            ms(t.p99_ms),
            percent(t.bots_cpu_pct),
        ]);
    }
    writeln!(w, "{}", table.render()).unwrap();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_of_run_mjs_reads_as_theirs() {
        let line = r#"{"server":"colyseus","versions":{"core":"0.18.17","wsTransport":"0.18.4"},"patchMs":16,"players":50,"rate":1,"seconds":10.02,"serverCpuPct":4.2,"msgsPerS":1622,"usPerMsg":25.85,"p50Ms":9.8,"p99Ms":24.2,"botsCpuPct":5.9}"#;
        let t: Theirs = serde_json::from_str(line).unwrap();
        assert_eq!(t.versions.core, "0.18.17");
        assert_eq!(t.msgs_per_s, 1622.0);
        assert_eq!(t.us_per_msg, 25.85);
        assert_eq!(t.p99_ms, 24.2);
    }
}
