//! `cargo xtask bench`: builds the release binaries, runs the standard scenarios with the
//! load generator against a freshly spawned server each time, and writes the figures to
//! `docs/benchmarks.md` (between its generated-section markers; the notes around them
//! are kept).
//!
//! Every run spawns its own server on a free loopback port with a fresh data directory,
//! so scenarios do not see each other's players. The raw JSON line of every run is kept
//! in `target/bench/runs.jsonl`.
//!
//! - [`machine`]: what the figures were measured on.
//! - [`markdown`]: the tables.
//! - [`fanout`]: the fan-out scenario's runs and table.
//! - [`colyseus`]: Colyseus' state sync beside our one socket, CPU per message.
//! - [`charts`]: the ramp and the batching sweep drawn as SVG beside the tables.
//! - [`spectators`]: 1,000 spectators beside 100 players of one game.

mod charts;
mod colyseus;
mod fanout;
mod machine;
mod markdown;
mod spectators;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use loadgen_report::Report;

use crate::cmd;

const USAGE: &str = "\
cargo xtask bench [options]

  --quick                  shorter runs and fewer ramp steps (a smoke test of the bench)
  --only NAME              run only this scenario (steady, ramp, idle, hostile, games,
                           startup, fanout, colyseus, spectators); repeatable; prints the tables
                           (docs/benchmarks.md is rewritten by a run of every scenario,
                           whose generated section it replaces whole)
  --baseline BINARY        the fan-out scenario also runs its reference rows on this
                           other build of drapetisca (e.g. an older commit's), in turn
  --pulsar-url URL         add rows with the server on this Pulsar (as drapetisca's flag)
  --cassandra-nodes NODES  add rows with the server on these Cassandra nodes
  --no-write               print the tables, leave docs/benchmarks.md alone
";

/// The p99 to other players above which the ramp stops.
const RAMP_LIMIT_MS: f64 = 100.0;
/// CPU (percent of one core) that other work on the machine may take during a run
/// before a run that missed its goal is tried again: the bench measures the server, not
/// the neighbours.
const BUSY_MACHINE_PERCENT: f64 = 30.0;
/// How many times a run may be tried on a busy machine.
const TRIES: u32 = 3;

/// What the command line asked for.
#[derive(Debug, Default)]
struct Options {
    /// Short runs, for checking the bench itself.
    quick: bool,
    /// Scenarios to run; empty means all.
    only: Vec<String>,
    /// Passed to drapetisca as `--pulsar-url` for the Pulsar rows.
    pulsar_url: Option<String>,
    /// Passed to drapetisca as `--cassandra-nodes` for the Cassandra rows.
    cassandra_nodes: Option<String>,
    /// Whether to update docs/benchmarks.md.
    write: bool,
    /// Another drapetisca binary for the fan-out scenario's baseline rows.
    baseline: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        write: true,
        ..Options::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--no-write" => o.write = false,
            "--only" => o.only.push(value("--only")?),
            "--pulsar-url" => o.pulsar_url = Some(value("--pulsar-url")?),
            "--cassandra-nodes" => o.cassandra_nodes = Some(value("--cassandra-nodes")?),
            "--baseline" => o.baseline = Some(value("--baseline")?.into()),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown bench option {other:?}\n\n{USAGE}"),
        }
    }
    // the generated section is written whole from what ran: a run of some scenarios
    // would drop every other table
    if !o.only.is_empty() {
        o.write = false;
    }
    for name in &o.only {
        if ![
            "steady",
            "ramp",
            "idle",
            "hostile",
            "games",
            "startup",
            "fanout",
            "colyseus",
            "spectators",
        ]
        .contains(&name.as_str())
        {
            bail!("unknown scenario {name:?}\n\n{USAGE}");
        }
    }
    Ok(o)
}

/// How each bot plays (loadgen's `--sockets`): on the one socket of our page
/// (`/ws/one/{id}`, batched), or on the reference protocol's two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sockets {
    One,
    Two,
}

impl Sockets {
    /// Loadgen's value, and the tables' cell.
    pub fn name(self) -> &'static str {
        match self {
            Sockets::One => "one",
            Sockets::Two => "two",
        }
    }
}

/// A server configuration the scenarios run against: a row group in every table.
#[derive(Clone, Debug)]
pub struct Variant {
    /// `embedded`, `pulsar`, `cassandra`, `pulsar+cassandra`.
    pub name: String,
    /// Extra drapetisca arguments.
    pub server_args: Vec<String>,
    /// The goal for p99 to other players in the steady scenario.
    pub steady_goal_ms: f64,
}

fn variants(o: &Options) -> Vec<Variant> {
    let mut out = vec![Variant {
        name: "embedded".into(),
        server_args: vec![],
        steady_goal_ms: 5.0,
    }];
    let pulsar = o
        .pulsar_url
        .as_ref()
        .map(|url| vec!["--pulsar-url".to_string(), url.clone()]);
    let cassandra = o
        .cassandra_nodes
        .as_ref()
        .map(|nodes| vec!["--cassandra-nodes".to_string(), nodes.clone()]);
    if let Some(p) = &pulsar {
        out.push(Variant {
            name: "pulsar".into(),
            server_args: p.clone(),
            steady_goal_ms: 20.0,
        });
    }
    if let Some(c) = &cassandra {
        out.push(Variant {
            name: "cassandra".into(),
            server_args: c.clone(),
            steady_goal_ms: 5.0,
        });
    }
    if let (Some(p), Some(c)) = (&pulsar, &cassandra) {
        out.push(Variant {
            name: "pulsar+cassandra".into(),
            server_args: [p.clone(), c.clone()].concat(),
            steady_goal_ms: 20.0,
        });
    }
    out
}

/// The binaries under test, copied aside so that a build elsewhere in the shared target
/// directory cannot swap them in the middle of a run.
struct Bins {
    /// The game server.
    server: PathBuf,
    /// The load generator.
    loadgen: PathBuf,
    /// Where runs.jsonl and server logs go.
    out: PathBuf,
    /// The fan-out scenario's baseline server, copied aside too.
    baseline: Option<PathBuf>,
}

fn build(baseline: Option<&Path>) -> Result<Bins> {
    cmd::run(
        "cargo",
        &["build", "--release", "-p", "drapetisca", "-p", "loadgen"],
        &[],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cmd::root().join("target"));
    let out = cmd::root().join("target").join("bench");
    let bin = out.join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    for name in ["drapetisca", "loadgen"] {
        let from = target.join("release").join(name);
        std::fs::copy(&from, bin.join(name))
            .with_context(|| format!("cannot copy {}", from.display()))?;
    }
    let baseline = match baseline {
        Some(from) => {
            let to = bin.join("drapetisca-baseline");
            std::fs::copy(from, &to)
                .with_context(|| format!("cannot copy the baseline {}", from.display()))?;
            Some(to)
        }
        None => None,
    };
    Ok(Bins {
        server: bin.join("drapetisca"),
        loadgen: bin.join("loadgen"),
        out,
        baseline,
    })
}

/// One loadgen run against a fresh server of `variant`; returns its report.
fn loadgen(
    bins: &Bins,
    variant: &Variant,
    label: &str,
    sockets: Sockets,
    args: &[&str],
) -> Result<Report> {
    loadgen_on(bins, &bins.server, variant, label, sockets, args)
}

/// [`loadgen`] against the server binary `server`.
fn loadgen_on(
    bins: &Bins,
    server: &Path,
    variant: &Variant,
    label: &str,
    sockets: Sockets,
    args: &[&str],
) -> Result<Report> {
    let log = bins.out.join(format!("{label}.server.log"));
    let mut command = Command::new(&bins.loadgen);
    command
        .arg("--spawn")
        .arg(server)
        .args(["--probe-path", "/healthz", "--quiet", "--label", label])
        .arg("--server-log")
        .arg(&log)
        .arg("--json-out")
        .arg(bins.out.join("runs.jsonl"))
        .args(["--sockets", sockets.name()])
        // every bot connects from 127.0.0.1: up to 10,000 players (the games scenario),
        // beside a hostile flood
        .arg("--server-arg=--max-sockets-per-address=25000")
        .arg("--server-arg=--max-sockets=25000")
        .args(
            variant
                .server_args
                .iter()
                .map(|a| format!("--server-arg={a}")),
        )
        .args(args);
    let line = json_line(&mut command, &format!("loadgen {label}"))?;
    let report = Report::from_json(&line)
        .with_context(|| format!("loadgen {label}: not a report of this loadgen"))?;
    eprintln!("bench: {label}: {}", markdown::one_line(&report));
    Ok(report)
}

/// Runs `command` (`what`, for errors) to its end and returns the last line of its
/// output that is a JSON object: its report.
fn json_line(command: &mut Command, what: &str) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("{what} printed no JSON line"))?;
    Ok(line.to_string())
}

/// A run that may have been tried several times, and its last report.
pub struct Run {
    /// What the last try measured.
    pub report: Report,
    /// How many tries it took (see [`measured`]).
    pub tries: u32,
}

/// Runs `loadgen` until it meets `goal` or the machine was quiet enough that missing it
/// is the server's doing, at most [`TRIES`] times.
fn measured(
    bins: &Bins,
    variant: &Variant,
    label: &str,
    sockets: Sockets,
    args: &[&str],
    goal: impl Fn(&Report) -> bool,
) -> Result<Run> {
    let mut tries = 0;
    loop {
        tries += 1;
        let report = loadgen(bins, variant, &format!("{label}-try{tries}"), sockets, args)?;
        let others = markdown::others_cpu(&report);
        if goal(&report) || others <= BUSY_MACHINE_PERCENT || tries >= TRIES {
            return Ok(Run { report, tries });
        }
        eprintln!("bench: {label}: other work took {others:.0}% of a core; trying again");
    }
}

/// Figures of every scenario that ran, for the tables.
#[derive(Default)]
pub struct Results {
    /// 100 players x 2 moves/s, per variant.
    pub steady: Vec<(Variant, Run)>,
    /// Each ramp step, per variant.
    pub ramp: Vec<(Variant, Vec<Run>)>,
    /// Idle players' memory, per variant and way of connecting.
    pub idle: Vec<(Variant, Sockets, Report)>,
    /// A clean run and the same run beside hostile clients, per variant.
    pub hostile: Vec<(Variant, Report, Report)>,
    /// Players in many games of 8, by variant, way of connecting and step.
    pub games: Vec<(Variant, Sockets, Run)>,
    /// Idle players, one per game, as many games (embedded): memory per loaded game.
    pub idle_games: Option<Report>,
    /// Start-up times of several spawns (embedded only).
    pub startup: Vec<Report>,
    /// Colyseus beside our one socket, per interval (embedded only).
    pub colyseus: Vec<colyseus::Pair>,
    /// The fan-out scenario's runs (embedded only).
    pub fanout: Vec<(fanout::Case, Report)>,
    /// What `--baseline` named, for the fan-out table.
    pub fanout_baseline: Option<String>,
    /// 100 players alone and beside 1,000 spectators (embedded only).
    pub spectators: Option<spectators::Pair>,
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let wanted = |name: &str| o.only.is_empty() || o.only.iter().any(|n| n == name);
    let bins = build(o.baseline.as_deref())?;
    let machine = machine::Machine::probe();
    let (duration, ramp_duration) = if o.quick { ("5", "5") } else { ("20", "10") };
    let ramp_steps: &[u32] = if o.quick {
        &[100, 400, 800]
    } else {
        // the standard board has about 870 free cells: no more players fit on it
        &[100, 200, 400, 600, 700, 800, 850]
    };
    let idle_players = if o.quick { "200" } else { "800" };
    // both floods of --hostile need about 20 s
    let (hostile_duration, flood) = if o.quick {
        ("20", "200")
    } else {
        ("30", "1000")
    };
    let mut results = Results::default();
    for variant in variants(&o) {
        let v = &variant.name;
        if wanted("steady") {
            let label = format!("steady-{v}");
            let goal = variant.steady_goal_ms;
            let r = measured(
                &bins,
                &variant,
                &label,
                Sockets::Two,
                &["-n", "100", "-r", "2", "-t", duration],
                |r| markdown::others_p99(r) <= goal && markdown::lost(r) == 0,
            )?;
            results.steady.push((variant.clone(), r));
        }
        if wanted("ramp") {
            let mut steps = Vec::new();
            for n in ramp_steps {
                let label = format!("ramp-{v}-{n}");
                let n = n.to_string();
                let args = ["-n", n.as_str(), "-r", "1", "-t", ramp_duration];
                let r = measured(
                    &bins,
                    &variant,
                    &label,
                    Sockets::Two,
                    &args,
                    markdown::within_ramp_limit,
                )?;
                let over = !markdown::within_ramp_limit(&r.report);
                steps.push(r);
                if over {
                    break;
                }
            }
            results.ramp.push((variant.clone(), steps));
        }
        if wanted("idle") {
            // what a reference client costs beside what our page costs (issue 22)
            for sockets in [Sockets::Two, Sockets::One] {
                let label = format!("idle-{v}-{}", sockets.name());
                let r = loadgen(
                    &bins,
                    &variant,
                    &label,
                    sockets,
                    &["-n", idle_players, "-r", "0", "-t", "2", "--grace", "0"],
                )?;
                results.idle.push((variant.clone(), sockets, r));
            }
        }
        if wanted("games") {
            // the scenario on every variant with reference clients and with our page's
            // one socket; the 10,000 players on the embedded one, if the step before
            // met the goal, with one socket only: two per player would pass the
            // open-files limit of this machine (20,000 a process, not raisable)
            let steps: &[(u32, u32, Sockets)] = match (o.quick, v.as_str()) {
                (true, _) => &[(400, 50, Sockets::One)],
                (false, "embedded") => &[
                    (2000, 250, Sockets::Two),
                    (2000, 250, Sockets::One),
                    (10_000, 1250, Sockets::One),
                ],
                (false, _) => &[(2000, 250, Sockets::Two), (2000, 250, Sockets::One)],
            };
            for (players, games, sockets) in steps {
                let label = format!("games-{v}-{players}-{games}-{}", sockets.name());
                let (n, g) = (players.to_string(), games.to_string());
                let creations = format!("--server-arg=--max-game-creations-per-minute={games}");
                // the server's cap on games with sockets (1000 by default) would refuse
                // the bots of the games above it
                let max_games = format!("--server-arg=--max-games={games}");
                let args = [
                    "-n",
                    &n,
                    "--games",
                    &g,
                    "-r",
                    "1",
                    "-t",
                    ramp_duration,
                    &creations,
                    &max_games,
                ];
                let r = measured(
                    &bins,
                    &variant,
                    &label,
                    *sockets,
                    &args,
                    markdown::games_met,
                )?;
                let met = markdown::games_met(&r.report);
                results.games.push((variant.clone(), *sockets, r));
                if !met {
                    break;
                }
            }
        }
        if wanted("hostile") {
            let honest = ["-n", "100", "-r", "2", "-t", hostile_duration];
            let clean = loadgen(
                &bins,
                &variant,
                &format!("hostile-{v}-clean"),
                Sockets::Two,
                &honest,
            )?;
            let attacked = [&honest[..], &["--hostile", "--flood", flood]].concat();
            let attacked = loadgen(
                &bins,
                &variant,
                &format!("hostile-{v}"),
                Sockets::Two,
                &attacked,
            )?;
            results.hostile.push((variant.clone(), clean, attacked));
        }
    }
    if wanted("games") {
        let embedded = &variants(&o)[0];
        let (n, g) = if o.quick {
            ("50", "50")
        } else {
            ("250", "250")
        };
        let creations = format!("--server-arg=--max-game-creations-per-minute={g}");
        let args = [
            "-n", n, "--games", g, "-r", "0", "-t", "2", "--grace", "0", &creations,
        ];
        results.idle_games = Some(loadgen(&bins, embedded, "idle-games", Sockets::Two, &args)?);
    }
    if wanted("startup") {
        let embedded = &variants(&o)[0];
        for i in 0..5 {
            let label = format!("startup-{i}");
            results.startup.push(loadgen(
                &bins,
                embedded,
                &label,
                Sockets::Two,
                &["--startup-only"],
            )?);
        }
    }
    if wanted("fanout") {
        let embedded = &variants(&o)[0];
        let duration = if o.quick { "5" } else { "10" };
        for case in fanout::plan(bins.baseline.is_some()) {
            let server = match case.build {
                fanout::Build::Current => &bins.server,
                // unwrap: the plan has baseline cases only when a baseline was given
                fanout::Build::Baseline => bins.baseline.as_ref().unwrap(),
            };
            let args = case.args(duration);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let report = loadgen_on(&bins, server, embedded, &case.label(), case.sockets, &args)?;
            results.fanout.push((case, report));
        }
        results.fanout_baseline = o.baseline.as_ref().map(|b| b.display().to_string());
    }
    if wanted("spectators") {
        let embedded = &variants(&o)[0];
        let seconds = if o.quick { "5" } else { "20" };
        let run = |label: &str, watchers: usize| {
            let args = spectators::args(seconds, watchers);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            loadgen(&bins, embedded, label, Sockets::One, &args)
        };
        let alone = run("spectators-alone", 0)?;
        let watched = run("spectators-1000", spectators::SPECTATORS)?;
        results.spectators = Some(spectators::Pair { alone, watched });
    }
    if wanted("colyseus") {
        let embedded = &variants(&o)[0];
        let root = cmd::root();
        colyseus::prepare(&root)?;
        let seconds = if o.quick { "10" } else { "30" };
        for interval_ms in colyseus::INTERVALS_MS {
            let args = colyseus::our_args(interval_ms, seconds);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let label = format!("colyseus-beside-{interval_ms}");
            let ours = loadgen(&bins, embedded, &label, Sockets::One, &args)?;
            let theirs = colyseus::run_theirs(&root, interval_ms, seconds)?;
            results.colyseus.push(colyseus::Pair {
                interval_ms,
                ours,
                theirs,
            });
        }
    }
    let mut command = String::from("cargo xtask bench");
    for a in args {
        command.push(' ');
        command.push_str(a);
    }
    if o.write {
        let docs = cmd::root().join("docs");
        let charts = charts::write(&docs, &results)?;
        let section = markdown::section(&machine, &command, &results, &charts);
        let path = docs.join("benchmarks.md");
        markdown::write_into(&path, &section)?;
        eprintln!("bench: wrote {}", path.display());
    } else {
        println!("{}", markdown::section(&machine, &command, &results, &[]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_run_of_some_scenarios_prints_and_a_full_run_writes() {
        assert!(parse(&args(&[])).unwrap().write);
        assert!(!parse(&args(&["--no-write"])).unwrap().write);
        let some = parse(&args(&["--only", "idle", "--only", "colyseus"])).unwrap();
        assert_eq!(some.only, ["idle", "colyseus"]);
        assert!(
            !some.write,
            "it would replace every other table with nothing"
        );
        assert!(parse(&args(&["--only", "nothing"])).is_err());
    }
}
