//! The fan-out scenario (issue 14): what a delivered update costs the server, for
//! reference clients (one WebSocket message per update) and batched ones (`?batch=true`,
//! the page's stream), at 100 players x 2 moves/s and 800 x 1, and the batched stream at
//! a few flush intervals, and at 800 x 1 our page's one socket (issue 22: commands and the
//! batched stream on one WebSocket), all in one run on one machine. With `--baseline BINARY`, the
//! reference rows of another build of the server (an older commit) run in the same run,
//! interleaved, so that "x% cheaper than before" compares runs minutes apart, not days.

use std::fmt::Write;

use loadgen_report::Report;

use super::markdown::{self, ms, percent, server, yes, Table};
use super::Sockets;

/// The goals of issue 14 for batched clients at 800 players x 1 move/s (issue 22's for
/// one-socket clients).
const BATCHED_CPU_GOAL_PERCENT: f64 = 25.0;
const BATCHED_P99_GOAL_MS: f64 = 25.0;
/// Reference clients: CPU per delivered update at most this share of the baseline's.
const REFERENCE_GOAL_SHARE: f64 = 0.7;

/// Which build of the server a case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// The one this bench built.
    Current,
    /// The one given with `--baseline`.
    Baseline,
}

/// One run of the scenario.
#[derive(Clone, Debug)]
pub struct Case {
    pub build: Build,
    /// Two sockets a bot (the reference protocol), or our page's one.
    pub sockets: Sockets,
    /// `None`: reference clients; `Some(ms)`: batched, flushed at most every `ms` (the
    /// one socket is always batched).
    pub batch_ms: Option<u64>,
    pub players: u32,
    pub rate: u32,
}

impl Case {
    /// A short name for labels and logs.
    pub fn label(&self) -> String {
        let build = match self.build {
            Build::Current => "current",
            Build::Baseline => "baseline",
        };
        format!(
            "fanout-{build}-{}-{}x{}",
            self.clients("", ""),
            self.players,
            self.rate
        )
    }

    /// What the bots are, their interval between `before` and `after`.
    fn clients(&self, before: &str, after: &str) -> String {
        match (self.sockets, self.batch_ms) {
            (Sockets::Two, None) => "reference".to_string(),
            (Sockets::Two, Some(ms)) => format!("batched{before}{ms}{after}"),
            (Sockets::One, ms) => format!("one{before}{}{after}", ms.unwrap_or(DEFAULT_BATCH_MS)),
        }
    }

    /// The loadgen arguments besides the common ones.
    pub fn args(&self, duration: &str) -> Vec<String> {
        let mut args = vec![
            "-n".to_string(),
            self.players.to_string(),
            "-r".into(),
            self.rate.to_string(),
            "-t".into(),
            duration.into(),
        ];
        if let Some(ms) = self.batch_ms {
            if self.sockets == Sockets::Two {
                args.push("--batched".into());
            }
            args.push(format!("--server-arg=--world-batch-ms={ms}"));
        }
        args
    }
}

/// The server's default flush interval (`--world-batch-ms`), which the summary judges;
/// every batched case passes its interval explicitly.
pub const DEFAULT_BATCH_MS: u64 = 10;

/// The cases, in the order they run: each load's reference rows (the baseline's right
/// before the current build's), then its batched rows; at 800 players also the batched
/// stream at longer intervals, to show what the interval trades, and our page's one
/// socket at the default interval.
pub fn plan(baseline: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    for (players, rate, intervals) in [
        (100, 2, &[DEFAULT_BATCH_MS][..]),
        (800, 1, &[DEFAULT_BATCH_MS, 14, 20]),
    ] {
        if baseline {
            cases.push(Case {
                build: Build::Baseline,
                sockets: Sockets::Two,
                batch_ms: None,
                players,
                rate,
            });
        }
        cases.push(Case {
            build: Build::Current,
            sockets: Sockets::Two,
            batch_ms: None,
            players,
            rate,
        });
        for ms in intervals {
            cases.push(Case {
                build: Build::Current,
                sockets: Sockets::Two,
                batch_ms: Some(*ms),
                players,
                rate,
            });
        }
        if players == 800 {
            cases.push(Case {
                build: Build::Current,
                sockets: Sockets::One,
                batch_ms: Some(DEFAULT_BATCH_MS),
                players,
                rate,
            });
        }
    }
    cases
}

/// Server CPU over the moving window per update delivered (to the mover and to the
/// others), in microseconds.
pub fn cpu_per_update_us(r: &Report) -> f64 {
    let delivered = r.to_self.received + r.to_others.received;
    if delivered == 0 {
        return f64::NAN;
    }
    server(r).cpu_percent / 100.0 * r.duration_s * 1e6 / delivered as f64
}

fn batched_met(r: &Report) -> bool {
    server(r).cpu_percent <= BATCHED_CPU_GOAL_PERCENT
        && markdown::others_p99(r) <= BATCHED_P99_GOAL_MS
        && markdown::lost(r) == 0
}

/// The current build's reference run against the baseline's at the same load.
fn reference_met(current: &Report, baseline: &Report) -> bool {
    cpu_per_update_us(current) <= REFERENCE_GOAL_SHARE * cpu_per_update_us(baseline)
        && markdown::others_p99(current) <= markdown::others_p99(baseline)
        && markdown::lost(current) == 0
}

fn find(
    runs: &[(Case, Report)],
    build: Build,
    sockets: Sockets,
    batch_ms: Option<u64>,
    players: u32,
) -> Option<&Report> {
    runs.iter()
        .find(|(c, _)| {
            c.build == build
                && c.sockets == sockets
                && c.batch_ms == batch_ms
                && c.players == players
        })
        .map(|(_, r)| r)
}

/// The section's table and what it says of the goals.
pub fn section(runs: &[(Case, Report)], baseline: Option<&str>) -> String {
    let mut s = String::new();
    let w = &mut s;
    // unwrap (every writeln! below): writing to a String cannot fail
    writeln!(w, "### Fan-out: what a delivered update costs the server\n").unwrap();
    write!(w, "Reproduce one row: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --sockets two --server-arg=--max-sockets-per-address=25000 --server-arg=--max-sockets=25000 -n 800 -r 1 -t 10 [--batched --server-arg=--world-batch-ms=10]` (\"one\": `--sockets one`, our page's one socket). CPU per delivered update: the server's CPU over the moving window divided by the updates delivered to the mover and to the others. \"messages\": WebSocket messages the bots received (a batch is one).").unwrap();
    if let Some(b) = baseline {
        write!(w, " \"baseline\" is `{b}`, run in the same bench, each of its rows right before the current build's.").unwrap();
    }
    // the paragraph ends, and a blank line before the table
    writeln!(w, "\n").unwrap();
    let mut table = Table::new(&[
        "build",
        "clients",
        "players x moves/s",
        "server CPU",
        "CPU per delivered update",
        "p50",
        "p99",
        "lost",
        "messages",
        "loadgen CPU",
        "others' CPU",
    ]);
    for (case, r) in runs {
        let clients = case.clients(" (", " ms)");
        table.row(vec![
            format!("{:?}", case.build).to_lowercase(),
            clients,
            format!("{} x {}", case.players, case.rate),
            percent(server(r).cpu_percent),
            format!("{:.2} us", cpu_per_update_us(r)),
            ms(r.to_others.latency.p50_ms),
            ms(markdown::others_p99(r)),
            markdown::lost(r).to_string(),
            r.frames_in.to_string(),
            percent(r.loadgen_cpu_percent),
            percent(markdown::others_cpu(r).max(0.0)),
        ]);
    }
    writeln!(w, "{}", table.render()).unwrap();
    for line in summary(runs) {
        writeln!(w, "{line}").unwrap();
    }
    writeln!(w).unwrap();
    s
}

/// A line per goal of issue 14 that the runs measured.
pub fn summary(runs: &[(Case, Report)]) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(r) = find(
        runs,
        Build::Current,
        Sockets::Two,
        Some(DEFAULT_BATCH_MS),
        800,
    ) {
        lines.push(format!(
            "- Fan-out, batched clients at 800 x 1 ({DEFAULT_BATCH_MS} ms): server CPU {}, p99 {} ms, {} lost: goal <= {BATCHED_CPU_GOAL_PERCENT:.0}% and <= {BATCHED_P99_GOAL_MS:.0} ms {}.",
            percent(server(r).cpu_percent),
            ms(markdown::others_p99(r)),
            markdown::lost(r),
            if batched_met(r) { "met" } else { "not met" },
        ));
    }
    if let Some(r) = find(
        runs,
        Build::Current,
        Sockets::One,
        Some(DEFAULT_BATCH_MS),
        800,
    ) {
        lines.push(format!(
            "- Fan-out, one-socket clients at 800 x 1 ({DEFAULT_BATCH_MS} ms): server CPU {}, {:.2} us per delivered update, p99 {} ms, {} lost: goal <= {BATCHED_CPU_GOAL_PERCENT:.0}% and <= {BATCHED_P99_GOAL_MS:.0} ms {}.",
            percent(server(r).cpu_percent),
            cpu_per_update_us(r),
            ms(markdown::others_p99(r)),
            markdown::lost(r),
            if batched_met(r) { "met" } else { "not met" },
        ));
    }
    for players in [100, 800] {
        let (Some(current), Some(base)) = (
            find(runs, Build::Current, Sockets::Two, None, players),
            find(runs, Build::Baseline, Sockets::Two, None, players),
        ) else {
            continue;
        };
        let (c, b) = (cpu_per_update_us(current), cpu_per_update_us(base));
        lines.push(format!(
            "- Fan-out, reference clients, {players} players: {c:.2} us per delivered update against the baseline's {b:.2} us ({:+.0}%), p99 {} against {} ms: goal 30% cheaper, p99 no worse: {}.",
            (c / b - 1.0) * 100.0,
            ms(markdown::others_p99(current)),
            ms(markdown::others_p99(base)),
            yes(reference_met(current, base)),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadgen_report::{Deliveries, ServerFigures, Summary};

    fn report(cpu_percent: f64, delivered: u64, p99_ms: f64) -> Report {
        Report {
            duration_s: 10.0,
            to_others: Deliveries {
                received: delivered,
                latency: Summary {
                    p99_ms,
                    ..Summary::default()
                },
                ..Deliveries::default()
            },
            server: Some(ServerFigures {
                cpu_percent,
                ..ServerFigures::default()
            }),
            ..Report::default()
        }
    }

    #[test]
    fn the_plan_runs_each_baseline_row_right_before_the_current_one() {
        let cases = plan(true);
        let labels: Vec<String> = cases.iter().map(Case::label).collect();
        assert_eq!(
            labels,
            [
                "fanout-baseline-reference-100x2",
                "fanout-current-reference-100x2",
                "fanout-current-batched10-100x2",
                "fanout-baseline-reference-800x1",
                "fanout-current-reference-800x1",
                "fanout-current-batched10-800x1",
                "fanout-current-batched14-800x1",
                "fanout-current-batched20-800x1",
                "fanout-current-one10-800x1",
            ]
        );
        assert!(plan(false).iter().all(|c| c.build == Build::Current));
        assert!(cases[2].args("10").contains(&"--batched".to_string()));
        assert!(!cases[1].args("10").contains(&"--batched".to_string()));
        let one = cases.last().unwrap().args("10");
        assert!(
            !one.contains(&"--batched".to_string()),
            "the one socket is batched"
        );
        assert!(one.contains(&"--server-arg=--world-batch-ms=10".to_string()));
    }

    #[test]
    fn cpu_per_update_divides_the_cpu_time_by_the_deliveries() {
        // 50% of a core for 10 s is 5 s of CPU; over 1,000,000 updates, 5 us each
        let r = report(50.0, 1_000_000, 10.0);
        assert!((cpu_per_update_us(&r) - 5.0).abs() < 1e-9);
        assert!(cpu_per_update_us(&report(50.0, 0, 1.0)).is_nan());
    }

    #[test]
    fn the_summary_judges_each_goal_from_its_rows() {
        let case = |build, batch_ms, players| Case {
            build,
            sockets: Sockets::Two,
            batch_ms,
            players,
            rate: 1,
        };
        let runs = vec![
            (case(Build::Baseline, None, 100), report(20.0, 200_000, 3.0)),
            // 30.5% cheaper and p99 no worse: met
            (case(Build::Current, None, 100), report(13.9, 200_000, 3.0)),
            (
                case(Build::Baseline, None, 800),
                report(90.0, 6_000_000, 50.0),
            ),
            // cheaper but p99 worse: not met
            (
                case(Build::Current, None, 800),
                report(50.0, 6_000_000, 60.0),
            ),
            (
                case(Build::Current, Some(10), 800),
                report(24.0, 6_000_000, 30.0),
            ),
        ];
        let lines = summary(&runs);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].contains("server CPU 24%") && lines[0].ends_with("not met."),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("100 players") && lines[1].ends_with(": yes."),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains("800 players") && lines[2].ends_with(": **no**."),
            "{}",
            lines[2]
        );
        let table = section(&runs, Some("v0"));
        assert_eq!(
            table.lines().filter(|l| l.starts_with("| ")).count(),
            1 + runs.len()
        );
    }
}
