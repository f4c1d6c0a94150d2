//! The tables of `docs/benchmarks.md`, from the load generator's reports, and the
//! summary of the goals under them: the figures the notes around the section quote.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use loadgen_report::{Report, ServerFigures};

use super::charts::Chart;
use super::machine::Machine;
use super::{Results, Run, Sockets, BUSY_MACHINE_PERCENT, RAMP_LIMIT_MS, TRIES};

/// The generated part of the file sits between these lines; the rest is kept.
const BEGIN: &str = "<!-- cargo xtask bench: generated section begins -->";
const END: &str = "<!-- cargo xtask bench: generated section ends -->";

/// The goals for the memory of an idle connected player, KiB (issue 22): on our page's
/// one socket, and on the reference protocol's two.
const IDLE_GOAL_ONE_KB: f64 = 16.0;
const IDLE_GOAL_TWO_KB: f64 = 32.0;

fn idle_goal_kb(sockets: Sockets) -> f64 {
    match sockets {
        Sockets::One => IDLE_GOAL_ONE_KB,
        Sockets::Two => IDLE_GOAL_TWO_KB,
    }
}
/// The goal for start to first answered request, ms.
const STARTUP_GOAL_MS: f64 = 500.0;
/// p99 to the other players of one's game with many games on one instance.
const GAMES_GOAL_MS: f64 = 20.0;
/// The ramp's goal: this many players within the limit.
const RAMP_GOAL_PLAYERS: usize = 800;

pub fn others_p99(r: &Report) -> f64 {
    r.to_others.latency.p99_ms
}

/// CPU taken by work other than the server and the generator during a run, percent of
/// one core.
pub fn others_cpu(r: &Report) -> f64 {
    r.machine_cpu_percent - server(r).cpu_percent - r.loadgen_cpu_percent
}

/// Deliveries lost, to the mover and to others, and bots that failed.
pub fn lost(r: &Report) -> u64 {
    r.to_self.lost + r.to_others.lost + r.failed as u64
}

/// The server's figures; the bench always spawns the server, so they are there unless
/// `/proc` could not be read, and then every cell of them reads 0.
pub(super) fn server(r: &Report) -> ServerFigures {
    r.server.unwrap_or_default()
}

/// A progress line for the terminal.
pub fn one_line(r: &Report) -> String {
    let s = server(r);
    if r.players == 0 {
        return format!(
            "answered {:.1} ms after spawn",
            s.startup_ms.unwrap_or(f64::NAN)
        );
    }
    format!(
        "{} players, {:.0} moves/s, p99 to others {:.2} ms, lost {}, server cpu {:.0}%, {:.1} KiB/player",
        r.entered,
        r.moves_per_s,
        others_p99(r),
        lost(r),
        s.cpu_percent,
        s.kb_per_player,
    )
}

pub(super) fn yes(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

pub(super) fn ms(x: f64) -> String {
    format!("{x:.2}")
}

pub(super) fn percent(x: f64) -> String {
    format!("{x:.0}%")
}

/// A markdown table: one header, and rows of exactly as many cells.
pub(super) struct Table {
    /// The column names.
    header: Vec<String>,
    /// The rows so far, each as long as `header`.
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        // a row of another width would shift every later cell under the wrong header
        assert_eq!(
            cells.len(),
            self.header.len(),
            "a row of {} cells in a table of {} columns",
            cells.len(),
            self.header.len()
        );
        self.rows.push(cells);
    }

    pub(super) fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// The latency columns shared by the steady and ramp tables.
const LATENCY: [&str; 4] = ["p50", "p90", "p99", "max"];

/// The p50, p90, p99 and max cells of the latency to other players.
fn others_latency(r: &Report) -> Vec<String> {
    let l = &r.to_others.latency;
    [l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms]
        .into_iter()
        .map(ms)
        .collect()
}

/// The CPU and memory cells shared by the steady and ramp tables.
const RESOURCES: [&str; 5] = [
    "server CPU",
    "server RSS",
    "loadgen CPU",
    "others' CPU",
    "tries",
];

fn resources(run: &Run) -> Vec<String> {
    let r = &run.report;
    vec![
        percent(server(r).cpu_percent),
        format!("{} MiB", server(r).hwm_kb / 1024),
        percent(r.loadgen_cpu_percent),
        percent(others_cpu(r).max(0.0)),
        run.tries.to_string(),
    ]
}

fn steady_met(goal_ms: f64, r: &Report) -> bool {
    others_p99(r) <= goal_ms && lost(r) == 0
}

/// The many-games goal: p99 to the others of one's game at most 20 ms, nothing lost.
pub fn games_met(r: &Report) -> bool {
    others_p99(r) <= GAMES_GOAL_MS && lost(r) == 0 && r.failed == 0
}

pub fn within_ramp_limit(r: &Report) -> bool {
    others_p99(r) <= RAMP_LIMIT_MS && lost(r) == 0
}

/// The last ramp step within the limit, if any.
fn best_step(steps: &[Run]) -> Option<&Report> {
    steps
        .iter()
        .map(|run| &run.report)
        .filter(|r| within_ramp_limit(r))
        .max_by_key(|r| r.players)
}

/// The generated section: machine, commands, one table per scenario, and the summary.
/// The generated section: `charts` are the figures drawn from the same run, linked at
/// its top (see [`super::charts`]).
pub fn section(m: &Machine, command: &str, results: &Results, charts: &[Chart]) -> String {
    let mut s = String::new();
    // unwrap (every writeln! below): writing to a String cannot fail
    let w = &mut s;
    writeln!(w, "{BEGIN}").unwrap();
    writeln!(w, "## Latest run\n").unwrap();
    writeln!(w, "Command: `{command}` (commit `{}`)\n", m.commit).unwrap();
    for chart in charts {
        writeln!(w, "![{}]({})\n", chart.alt, chart.file).unwrap();
    }
    let mut machine = Table::new(&["cores", "CPU", "memory", "kernel", "load average at start"]);
    machine.row(vec![
        m.cores.to_string(),
        m.cpu.clone(),
        format!("{:.1} GiB", m.memory_gib),
        m.kernel.clone(),
        m.load.clone(),
    ]);
    writeln!(w, "{}", machine.render()).unwrap();
    writeln!(
        w,
        "The load generator runs on the same machine and shares its cores with the server; \
         its own CPU is in the tables (percent of one core; 200% = both cores busy), and so is \
         the CPU that other work on the machine took meanwhile (\"others'\"), which makes \
         figures worse than they would be on a quiet machine. A run that misses its goal \
         while others took more than {BUSY_MACHINE_PERCENT:.0}% of a core is tried again, \
         up to {TRIES} times (\"tries\"); the last try is shown. Latencies are in milliseconds, from a bot sending a \
         move to the update arriving on a world socket (\"others\": every other bot; \
         \"mover\": the bot that moved). Each run starts a fresh server.\n"
    )
    .unwrap();

    if !results.steady.is_empty() {
        writeln!(w, "### 100 players x 2 moves/s, one board\n").unwrap();
        writeln!(w, "Reproduce one row: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two -n 100 -r 2 -t 20 [--server-arg=--pulsar-url --server-arg=URL]`\n").unwrap();
        let header = [
            &["variant", "moves/s", "frames/s"][..],
            &LATENCY,
            &["mover p99", "lost", "late", "rejected"],
            &RESOURCES,
            &["goal", "met"],
        ]
        .concat();
        let mut table = Table::new(&header);
        for (v, run) in &results.steady {
            let r = &run.report;
            table.row(
                [
                    vec![
                        v.name.clone(),
                        format!("{:.0}", r.moves_per_s),
                        format!("{:.0}", r.frames_in_per_s),
                    ],
                    others_latency(r),
                    vec![
                        ms(r.to_self.latency.p99_ms),
                        lost(r).to_string(),
                        r.to_others.late.to_string(),
                        r.moves_rejected.to_string(),
                    ],
                    resources(run),
                    vec![
                        format!("p99 <= {} ms, 0 lost", v.steady_goal_ms),
                        yes(steady_met(v.steady_goal_ms, r)).into(),
                    ],
                ]
                .concat(),
            );
        }
        writeln!(w, "{}", table.render()).unwrap();
    }

    if !results.ramp.is_empty() {
        writeln!(
            w,
            "### Ramp: players on one board at 1 move/s until p99 > {RAMP_LIMIT_MS} ms\n"
        )
        .unwrap();
        writeln!(w, "Reproduce one step: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two -n 800 -r 1 -t 10`\n").unwrap();
        let within = format!("within {RAMP_LIMIT_MS} ms");
        let header = [
            &["variant", "players", "moves/s", "frames/s"][..],
            &LATENCY,
            &["lost", "rejected"],
            &RESOURCES,
            &[within.as_str()],
        ]
        .concat();
        for (v, steps) in &results.ramp {
            // a table per variant: the summary line between groups ends a markdown table
            let mut table = Table::new(&header);
            for run in steps {
                let r = &run.report;
                table.row(
                    [
                        vec![
                            v.name.clone(),
                            r.players.to_string(),
                            format!("{:.0}", r.moves_per_s),
                            format!("{:.0}", r.frames_in_per_s),
                        ],
                        others_latency(r),
                        vec![lost(r).to_string(), r.moves_rejected.to_string()],
                        resources(run),
                        vec![yes(within_ramp_limit(r)).into()],
                    ]
                    .concat(),
                );
            }
            let best = best_step(steps).map_or(0, |r| r.players);
            writeln!(
                w,
                "{}\n{}: largest board within {RAMP_LIMIT_MS} ms: **{best} players** (goal: about {RAMP_GOAL_PLAYERS}; {}).\n",
                table.render(),
                v.name,
                if best >= RAMP_GOAL_PLAYERS { "met" } else { "not met" }
            )
            .unwrap();
        }
    }

    if !results.idle.is_empty() {
        writeln!(w, "### Players connected and idle\n").unwrap();
        writeln!(w, "Reproduce: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two|one -n 800 -r 0 -t 2 --grace 0` (server RSS before any bot connects, and once every bot has entered; `two`: the reference protocol's player and world sockets, `one`: our page's one socket)\n").unwrap();
        let mut table = Table::new(&[
            "variant",
            "sockets",
            "players",
            "RSS before",
            "RSS connected",
            "KiB per player",
            "goal",
            "met",
        ]);
        for (v, sockets, r) in &results.idle {
            let s = server(r);
            table.row(vec![
                v.name.clone(),
                sockets.name().into(),
                r.entered.to_string(),
                format!("{} KiB", s.rss_before_kb),
                format!("{} KiB", s.rss_connected_kb),
                format!("{:.1}", s.kb_per_player),
                format!("<= {} KiB", idle_goal_kb(*sockets)),
                yes(idle_met(*sockets, r)).into(),
            ]);
        }
        writeln!(w, "{}", table.render()).unwrap();
    }

    if !results.hostile.is_empty() {
        writeln!(
            w,
            "### Hostile clients beside 100 honest players x 2 moves/s\n"
        )
        .unwrap();
        writeln!(w, "Reproduce: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two --server-arg=--max-sockets-per-address=25000 --server-arg=--max-sockets=25000 -n 100 -r 2 -t 30 [--hostile --flood 1000]`. Beside the bots, each from a loopback address of its own: 10 spammers over the move and chat limits (refused for `--flood-ban-secs` once closed), 5 garbage senders, 5 thieves entering under the bots' ids, 50 half-sent handshakes held open, and two floods of idle player sockets, one after the other (loadgen's `hostile` module). RSS: before the first flood, while each flood is held, after each closed.\n").unwrap();
        let header = [
            &["variant", "run"][..],
            &LATENCY,
            &[
                "lost",
                "spam frames / closed / refused",
                "garbage closed",
                "thefts / let in",
                "slow cut",
                "RSS before, held, after, held, after (MiB)",
                "goal",
                "met",
            ],
        ]
        .concat();
        let mut table = Table::new(&header);
        for (v, clean, attacked) in &results.hostile {
            let row = |run: &str, r: &Report, rest: Vec<String>| {
                [
                    vec![v.name.clone(), run.into()],
                    others_latency(r),
                    vec![lost(r).to_string()],
                    rest,
                ]
                .concat()
            };
            let dash = || "-".to_string();
            table.row(row(
                "clean",
                clean,
                vec![dash(), dash(), dash(), dash(), dash(), dash(), dash()],
            ));
            let h = attacked.hostile.unwrap_or_default();
            let mib = |kb: u64| format!("{:.0}", kb as f64 / 1024.0);
            table.row(row(
                "hostile",
                attacked,
                vec![
                    format!("{} / {} / {}", h.spam_frames, h.spam_closed, h.spam_refused),
                    h.garbage_closed.to_string(),
                    format!("{} / {}", h.thefts_tried, h.thefts_let_in),
                    format!("{} of {}", h.slow_cut, h.slow_opened),
                    [
                        h.rss_before_floods_kb,
                        h.rss_during_floods_kb[0],
                        h.rss_after_floods_kb[0],
                        h.rss_during_floods_kb[1],
                        h.rss_after_floods_kb[1],
                    ]
                    .map(mib)
                    .join(", "),
                    "p99 <= 2x clean, 0 lost, 0 let in, 2nd flood within 5% of the 1st".into(),
                    yes(hostile_met(clean, attacked)).into(),
                ],
            ));
        }
        writeln!(w, "{}", table.render()).unwrap();
    }

    if !results.games.is_empty() {
        writeln!(
            w,
            "### Many games: players in games of 8 at 1 move/s, one instance\n"
        )
        .unwrap();
        writeln!(w, "Reproduce one step: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two|one -n 2000 --games 250 -r 1 -t 10 --server-arg=--max-game-creations-per-minute=250 --server-arg=--max-games=250 --server-arg=--max-sockets-per-address=25000` (bot `i` plays game `i mod 250`; \"others\" are the other bots of the mover's game; `one`: our page's one socket, batched)\n").unwrap();
        let header = [
            &[
                "variant", "sockets", "players", "games", "moves/s", "frames/s",
            ][..],
            &LATENCY,
            &["lost", "rejected"],
            &RESOURCES,
            &["goal", "met"],
        ]
        .concat();
        let mut table = Table::new(&header);
        for (v, sockets, run) in &results.games {
            let r = &run.report;
            table.row(
                [
                    vec![
                        v.name.clone(),
                        sockets.name().into(),
                        r.players.to_string(),
                        r.games.to_string(),
                        format!("{:.0}", r.moves_per_s),
                        format!("{:.0}", r.frames_in_per_s),
                    ],
                    others_latency(r),
                    vec![lost(r).to_string(), r.moves_rejected.to_string()],
                    resources(run),
                    vec![
                        format!("p99 <= {GAMES_GOAL_MS} ms, 0 lost"),
                        yes(games_met(r)).into(),
                    ],
                ]
                .concat(),
            );
        }
        writeln!(w, "{}", table.render()).unwrap();
    }

    if let Some(r) = &results.idle_games {
        writeln!(
            w,
            "### Memory per loaded game: one idle player in each of many games (embedded)\n"
        )
        .unwrap();
        writeln!(w, "Reproduce: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two -n 250 --games 250 -r 0 -t 2 --grace 0 --server-arg=--max-game-creations-per-minute=250`. The server's RSS growth from before the bots to all of them connected, per game: a loaded game (its room task, board, food, channels) plus its one player's two sockets. Less the KiB per idle player of the table above, that is what an idle loaded game costs.\n").unwrap();
        let mut table = Table::new(&[
            "games",
            "players",
            "RSS before",
            "RSS connected",
            "KiB per game + its player",
        ]);
        table.row(vec![
            r.games.to_string(),
            r.entered.to_string(),
            format!("{} MiB", server(r).rss_before_kb / 1024),
            format!("{} MiB", server(r).rss_connected_kb / 1024),
            format!("{:.1}", server(r).kb_per_player),
        ]);
        writeln!(w, "{}", table.render()).unwrap();
    }

    if let Some((median, max)) = startup_times(results) {
        writeln!(w, "### Binary start to first answered request (embedded)\n").unwrap();
        writeln!(w, "Reproduce: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two --startup-only` (from spawning the process to the first HTTP answer of `/healthz`, polled every millisecond, fresh data directory)\n").unwrap();
        let mut table = Table::new(&["runs", "median", "max", "goal", "met"]);
        table.row(vec![
            results.startup.len().to_string(),
            format!("{median:.1} ms"),
            format!("{max:.1} ms"),
            format!("<= {STARTUP_GOAL_MS} ms"),
            yes(max <= STARTUP_GOAL_MS).into(),
        ]);
        writeln!(w, "{}", table.render()).unwrap();
    }
    if !results.fanout.is_empty() {
        w.push_str(&super::fanout::section(
            &results.fanout,
            results.fanout_baseline.as_deref(),
        ));
    }
    if !results.colyseus.is_empty() {
        w.push_str(&super::colyseus::section(&results.colyseus));
    }
    if let Some(pair) = &results.spectators {
        w.push_str(&super::spectators::section(pair));
    }
    w.push_str(&summary(results));
    write!(w, "{END}").unwrap();
    s
}

/// Honest players feel hostile clients little: p99 within twice the clean run's, nothing
/// lost, no id taken; and the second flood of idle sockets reuses the first one's memory.
fn hostile_met(clean: &Report, attacked: &Report) -> bool {
    let Some(h) = attacked.hostile else {
        return false;
    };
    others_p99(attacked) <= 2.0 * others_p99(clean)
        && lost(attacked) == 0
        && h.thefts_let_in == 0
        && h.rss_after_floods_kb[1] as f64 <= h.rss_after_floods_kb[0] as f64 * 1.05
}

fn idle_met(sockets: Sockets, r: &Report) -> bool {
    server(r).kb_per_player <= idle_goal_kb(sockets) && r.failed == 0
}

/// Median and maximum of the start-up runs, if any ran.
fn startup_times(results: &Results) -> Option<(f64, f64)> {
    let mut times: Vec<f64> = results
        .startup
        .iter()
        .map(|r| server(r).startup_ms.unwrap_or(f64::NAN))
        .collect();
    times.sort_by(f64::total_cmp);
    let max = *times.last()?;
    Some((times[times.len() / 2], max))
}

/// One line per goal, with the figures the notes below the section quote, so that they
/// come from the same run as the tables.
fn summary(results: &Results) -> String {
    let mut lines = Vec::new();
    for (v, run) in &results.steady {
        let r = &run.report;
        lines.push(format!(
            "- 100 x 2/s, {}: p99 to others {} ms (max {} ms), {} lost: goal p99 <= {} ms {}.",
            v.name,
            ms(others_p99(r)),
            ms(r.to_others.latency.max_ms),
            lost(r),
            v.steady_goal_ms,
            if steady_met(v.steady_goal_ms, r) {
                "met"
            } else {
                "not met"
            },
        ));
    }
    for (v, steps) in &results.ramp {
        lines.push(match best_step(steps) {
            Some(r) => format!(
                "- Ramp, {}: {} players within {RAMP_LIMIT_MS} ms, at p99 {} ms.",
                v.name,
                r.players,
                ms(others_p99(r))
            ),
            None => format!("- Ramp, {}: no step within {RAMP_LIMIT_MS} ms.", v.name),
        });
    }
    for sockets in [Sockets::Two, Sockets::One] {
        let runs: Vec<&Report> = results
            .idle
            .iter()
            .filter(|(_, s, _)| *s == sockets)
            .map(|(_, _, r)| r)
            .collect();
        if runs.is_empty() {
            continue;
        }
        let per: Vec<f64> = runs.iter().map(|r| server(r).kb_per_player).collect();
        let low = per.iter().copied().fold(f64::INFINITY, f64::min);
        let high = per.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lines.push(format!(
            "- Idle players, {} socket(s): {low:.1}-{high:.1} KiB per player against {} KiB: {}.",
            sockets.name(),
            idle_goal_kb(sockets),
            if runs.iter().all(|r| idle_met(sockets, r)) {
                "met"
            } else {
                "not met"
            }
        ));
    }
    for (v, clean, attacked) in &results.hostile {
        let h = attacked.hostile.unwrap_or_default();
        lines.push(format!(
            "- Hostile clients, {}: p99 to others {} ms against {} ms clean, {} lost, {} of {} thefts let in; RSS after two floods of {} idle sockets {} and {} KiB: {}.",
            v.name,
            ms(others_p99(attacked)),
            ms(others_p99(clean)),
            lost(attacked),
            h.thefts_let_in,
            h.thefts_tried,
            h.flood_sockets,
            h.rss_after_floods_kb[0],
            h.rss_after_floods_kb[1],
            if hostile_met(clean, attacked) { "met" } else { "not met" },
        ));
    }
    for (v, sockets, run) in &results.games {
        let r = &run.report;
        lines.push(format!(
            "- Many games, {}, {} socket(s): {} players in {} games at p99 {} ms to the others of their game, {} lost: goal p99 <= {GAMES_GOAL_MS} ms {}.",
            v.name,
            sockets.name(),
            r.players,
            r.games,
            ms(others_p99(r)),
            lost(r),
            if games_met(r) { "met" } else { "not met" },
        ));
    }
    if let Some((median, max)) = startup_times(results) {
        lines.push(format!(
            "- Start to first answered request: median {median:.1} ms, max {max:.1} ms."
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("### Summary\n\n{}\n\n", lines.join("\n"))
}

/// Replaces the generated section of the file at `path` (creating the file, or
/// appending the section, when there is none yet) and keeps everything else.
pub fn write_into(path: &Path, section: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures from `cargo xtask bench`; see the notes below the tables.\n\n"
            .into()
    });
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{section}{}", &old[..b], &old[e + END.len()..])
        }
        _ => format!("{}\n{section}\n", old.trim_end()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, new).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{charts, Variant};
    use loadgen_report::{Deliveries, HostileFigures, Summary};

    fn report(players: usize, p99_ms: f64, lost: u64) -> Report {
        Report {
            players,
            entered: players,
            to_others: Deliveries {
                lost,
                latency: Summary {
                    p99_ms,
                    ..Summary::default()
                },
                ..Deliveries::default()
            },
            server: Some(ServerFigures {
                startup_ms: Some(4.0),
                kb_per_player: 47.0,
                ..ServerFigures::default()
            }),
            ..Report::default()
        }
    }

    fn run(report: Report) -> Run {
        Run { report, tries: 1 }
    }

    #[test]
    fn the_summary_quotes_the_figures_of_the_tables() {
        let embedded = Variant {
            name: "embedded".into(),
            server_args: vec![],
            steady_goal_ms: 5.0,
        };
        let results = Results {
            steady: vec![(embedded.clone(), run(report(100, 1.59, 0)))],
            ramp: vec![(
                embedded.clone(),
                vec![
                    run(report(800, 16.25, 0)),
                    run(report(850, 20.13, 0)),
                    run(report(900, 120.0, 0)),
                ],
            )],
            idle: vec![
                (embedded.clone(), Sockets::Two, report(800, 0.0, 0)),
                (
                    embedded.clone(),
                    Sockets::One,
                    Report {
                        server: Some(ServerFigures {
                            kb_per_player: 15.5,
                            ..ServerFigures::default()
                        }),
                        ..report(800, 0.0, 0)
                    },
                ),
            ],
            hostile: vec![(
                embedded.clone(),
                report(100, 2.0, 0),
                Report {
                    hostile: Some(HostileFigures {
                        thefts_tried: 40,
                        rss_after_floods_kb: [50_000, 51_000],
                        ..HostileFigures::default()
                    }),
                    ..report(100, 3.5, 0)
                },
            )],
            games: vec![
                (
                    embedded.clone(),
                    Sockets::Two,
                    run(Report {
                        games: 250,
                        ..report(2000, 12.5, 0)
                    }),
                ),
                (
                    embedded.clone(),
                    Sockets::One,
                    run(Report {
                        games: 1250,
                        ..report(10_000, 45.0, 0)
                    }),
                ),
            ],
            idle_games: Some(Report {
                games: 250,
                ..report(250, 0.0, 0)
            }),
            startup: vec![report(0, 0.0, 0)],
            ..Results::default()
        };
        let machine = Machine {
            cores: 2,
            cpu: "cpu".into(),
            memory_gib: 1.0,
            kernel: "k".into(),
            commit: "c".into(),
            load: "0".into(),
        };
        let text = section(&machine, "cargo xtask bench", &results, &[charts::RAMP]);
        for quoted in [
            "![the ramp: p99 to others and server CPU against players on one board](bench-ramp.svg)",
            "100 x 2/s, embedded: p99 to others 1.59 ms",
            "goal p99 <= 5 ms met",
            "Ramp, embedded: 850 players within 100 ms, at p99 20.13 ms",
            "Idle players, two socket(s): 47.0-47.0 KiB per player against 32 KiB: not met",
            "Idle players, one socket(s): 15.5-15.5 KiB per player against 16 KiB: met",
            "median 4.0 ms",
            "Hostile clients, embedded: p99 to others 3.50 ms against 2.00 ms clean, 0 lost, 0 of 40 thefts let in",
            "50000 and 51000 KiB: met",
            "Many games, embedded, two socket(s): 2000 players in 250 games at p99 12.50 ms to the others of their game, 0 lost: goal p99 <= 20 ms met",
            "| embedded | one | 10000 | 1250 |",
        ] {
            assert!(text.contains(quoted), "{quoted:?} not in\n{text}");
        }
        // every table row has as many cells as its header
        for table in text.split("\n\n").filter(|t| t.starts_with('|')) {
            let widths: Vec<usize> = table.lines().map(|l| l.matches('|').count()).collect();
            assert!(widths.windows(2).all(|w| w[0] == w[1]), "{table}");
        }
    }

    #[test]
    fn the_generated_section_is_replaced_and_the_notes_around_it_kept() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        let path = dir.join("benchmarks.md");
        write_into(&path, &format!("{BEGIN}\nfirst\n{END}")).unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("\n## Notes\nkept\n");
        std::fs::write(&path, text).unwrap();
        write_into(&path, &format!("{BEGIN}\nsecond\n{END}")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("second") && !text.contains("first"));
        assert!(text.starts_with("# Benchmarks") && text.ends_with("## Notes\nkept\n"));
        std::fs::remove_dir_all(dir).ok();
    }
}
