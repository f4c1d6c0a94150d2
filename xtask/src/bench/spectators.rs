//! The spectators scenario (issue 23's goal): 100 players x 2 moves/s on one game
//! (our page's one socket), alone and beside 1,000 spectators of the same game
//! (`loadgen --spectators`). The players' p99 to the others may be at most 1 ms above
//! the run without spectators, and nobody, player or spectator, may lose an update.

use std::fmt::Write;

use loadgen_report::Report;

use super::markdown::{lost, ms, others_cpu, others_p99, percent, server, yes, Table};

/// Spectators of the one game.
pub const SPECTATORS: usize = 1000;
/// How much the players' p99 to the others may grow with the spectators.
const GOAL_ABOVE_MS: f64 = 1.0;

/// The loadgen arguments of a run: 100 players x 2 moves/s for `seconds`, with
/// `spectators` beside them.
pub fn args(seconds: &str, spectators: usize) -> Vec<String> {
    ["-n", "100", "-r", "2", "-t", seconds, "--spectators"]
        .iter()
        .map(|a| a.to_string())
        .chain([spectators.to_string()])
        .collect()
}

/// The run without spectators and the run with them.
pub struct Pair {
    pub alone: Report,
    pub watched: Report,
}

/// Spectators' deliveries lost (and spectators that failed) of a run.
fn spectators_lost(r: &Report) -> u64 {
    r.spectators
        .as_ref()
        .map_or(0, |s| s.deliveries.lost + s.failed as u64)
}

fn met(pair: &Pair) -> bool {
    others_p99(&pair.watched) <= others_p99(&pair.alone) + GOAL_ABOVE_MS
        && lost(&pair.alone) == 0
        && lost(&pair.watched) == 0
        && spectators_lost(&pair.watched) == 0
        && pair
            .watched
            .spectators
            .as_ref()
            .is_some_and(|s| s.briefed == SPECTATORS)
}

/// The section's table.
pub fn section(pair: &Pair) -> String {
    let mut w = String::new();
    writeln!(
        w,
        "### Spectators: 1,000 watching one game of 100 players x 2 moves/s\n"
    )
    .unwrap();
    writeln!(w, "Reproduce: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets one --server-arg=--max-sockets-per-address=25000 --server-arg=--max-sockets=25000 -n 100 -r 2 -t 20 [--spectators 1000]` (players on our page's one socket; each spectator on `/ws/watch`, briefed, counting every bot move it receives)\n").unwrap();
    let mut table = Table::new(&[
        "run",
        "players' p99 to others",
        "players lost",
        "spectators briefed",
        "spectators' p50",
        "spectators' p99",
        "spectators' max",
        "spectators received / expected",
        "spectators lost",
        "server CPU",
        "server RSS",
        "loadgen CPU",
        "others' CPU",
        "goal",
        "met",
    ]);
    for (run, r) in [("alone", &pair.alone), ("1,000 spectators", &pair.watched)] {
        let s = r.spectators.clone().unwrap_or_default();
        let l = s.deliveries.latency;
        let watched = r.spectators.is_some();
        let cell = |x: String| if watched { x } else { "-".into() };
        table.row(vec![
            run.into(),
            ms(others_p99(r)),
            lost(r).to_string(),
            cell(format!("{} of {}", s.briefed, s.spectators)),
            cell(ms(l.p50_ms)),
            cell(ms(l.p99_ms)),
            cell(ms(l.max_ms)),
            cell(format!(
                "{} / {}",
                s.deliveries.received, s.deliveries.expected
            )),
            cell(spectators_lost(r).to_string()),
            percent(server(r).cpu_percent),
            format!("{} MiB", server(r).hwm_kb / 1024),
            percent(r.loadgen_cpu_percent),
            percent(others_cpu(r).max(0.0)),
            if watched {
                format!("p99 <= alone + {GOAL_ABOVE_MS} ms, 0 lost")
            } else {
                "-".into()
            },
            if watched {
                yes(met(pair)).into()
            } else {
                "-".into()
            },
        ]);
    }
    writeln!(w, "{}", table.render()).unwrap();
    w
}
