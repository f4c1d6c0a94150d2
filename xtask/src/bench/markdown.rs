//! The tables of `docs/benchmarks.md`, from the JSON lines of the load generator.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::machine::Machine;
use super::{Results, BUSY_MACHINE_PERCENT, RAMP_LIMIT_MS, TRIES};

/// The generated part of the file sits between these lines; the rest is kept.
const BEGIN: &str = "<!-- cargo xtask bench: generated section begins -->";
const END: &str = "<!-- cargo xtask bench: generated section ends -->";

/// The goal for the memory of an idle connected player, KiB.
const IDLE_GOAL_KB: f64 = 20.0;
/// The goal for start to first answered request, ms.
const STARTUP_GOAL_MS: f64 = 500.0;
/// The ramp's goal: this many players within the limit.
const RAMP_GOAL_PLAYERS: u64 = 800;

fn f(v: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_f64()
        .unwrap_or(f64::NAN)
}

fn u(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

pub fn others_p99(r: &Value) -> f64 {
    f(r, &["to_others", "latency", "p99_ms"])
}

/// CPU taken by work other than the server and the generator during a run, percent of
/// one core.
pub fn others_cpu(r: &Value) -> f64 {
    f(r, &["machine_cpu_percent"])
        - f(r, &["server", "cpu_percent"])
        - f(r, &["loadgen_cpu_percent"])
}

/// Deliveries lost, to the mover and to others.
pub fn lost(r: &Value) -> u64 {
    u(r, &["to_self", "lost"]) + u(r, &["to_others", "lost"]) + u(r, &["failed"])
}

/// A progress line for the terminal.
pub fn one_line(r: &Value) -> String {
    if r["players"].as_u64() == Some(0) {
        return format!(
            "answered {:.1} ms after spawn",
            f(r, &["server", "startup_ms"])
        );
    }
    format!(
        "{} players, {:.0} moves/s, p99 to others {:.2} ms, lost {}, server cpu {:.0}%, {:.1} KiB/player",
        u(r, &["entered"]),
        f(r, &["moves_per_s"]),
        others_p99(r),
        lost(r),
        f(r, &["server", "cpu_percent"]),
        f(r, &["server", "kb_per_player"]),
    )
}

fn yes(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

fn ms(x: f64) -> String {
    format!("{x:.2}")
}

/// The p50, p90, p99 and max cells of the latency to other players.
fn others_latency(r: &Value) -> String {
    let at = |p: &str| ms(f(r, &["to_others", "latency", p]));
    format!(
        "{} | {} | {} | {}",
        at("p50_ms"),
        at("p90_ms"),
        ms(others_p99(r)),
        at("max_ms")
    )
}

/// The generated section: machine, commands and one table per scenario.
pub fn section(m: &Machine, command: &str, results: &Results) -> String {
    let mut s = String::new();
    // unwrap (every writeln! below): writing to a String cannot fail
    let w = &mut s;
    writeln!(w, "{BEGIN}").unwrap();
    writeln!(w, "## Latest run\n").unwrap();
    writeln!(w, "Command: `{command}` (commit `{}`)\n", m.commit).unwrap();
    writeln!(
        w,
        "| cores | CPU | memory | kernel | load average at start |"
    )
    .unwrap();
    writeln!(w, "|---|---|---|---|---|").unwrap();
    writeln!(
        w,
        "| {} | {} | {:.1} GiB | {} | {} |\n",
        m.cores, m.cpu, m.memory_gib, m.kernel, m.load
    )
    .unwrap();
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
        writeln!(w, "Reproduce one row: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz -n 100 -r 2 -t 20 [--server-arg=--pulsar-url --server-arg=URL]`\n").unwrap();
        writeln!(w, "| variant | moves/s | frames/s | p50 | p90 | p99 | max | mover p99 | lost | late | rejected | server CPU | server RSS | loadgen CPU | others' CPU | tries | goal | met |").unwrap();
        writeln!(
            w,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        )
        .unwrap();
        for (v, r) in &results.steady {
            let met = others_p99(r) <= v.steady_goal_ms && lost(r) == 0;
            writeln!(
                w,
                "| {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {:.0}% | {} MiB | {:.0}% | {:.0}% | {} | p99 <= {} ms, 0 lost | {} |",
                v.name,
                f(r, &["moves_per_s"]),
                f(r, &["frames_in_per_s"]),
                others_latency(r),
                ms(f(r, &["to_self", "latency", "p99_ms"])),
                lost(r),
                u(r, &["to_others", "late"]),
                u(r, &["moves_rejected"]),
                f(r, &["server", "cpu_percent"]),
                u(r, &["server", "hwm_kb"]) / 1024,
                f(r, &["loadgen_cpu_percent"]),
                others_cpu(r).max(0.0),
                u(r, &["tries"]),
                v.steady_goal_ms,
                yes(met),
            )
            .unwrap();
        }
        writeln!(w).unwrap();
    }

    if !results.ramp.is_empty() {
        writeln!(
            w,
            "### Ramp: players on one board at 1 move/s until p99 > {RAMP_LIMIT_MS} ms\n"
        )
        .unwrap();
        writeln!(w, "Reproduce one step: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz -n 800 -r 1 -t 10`\n").unwrap();
        for (v, steps) in &results.ramp {
            // a header per variant: the summary line between groups ends a markdown table
            writeln!(w, "| variant | players | moves/s | frames/s | p50 | p90 | p99 | max | lost | rejected | server CPU | server RSS | loadgen CPU | others' CPU | tries | within {RAMP_LIMIT_MS} ms |").unwrap();
            writeln!(
                w,
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
            )
            .unwrap();
            let mut best = 0;
            for r in steps {
                let within = others_p99(r) <= RAMP_LIMIT_MS && lost(r) == 0;
                if within {
                    best = best.max(u(r, &["players"]));
                }
                writeln!(
                    w,
                    "| {} | {} | {:.0} | {:.0} | {} | {} | {} | {:.0}% | {} MiB | {:.0}% | {:.0}% | {} | {} |",
                    v.name,
                    u(r, &["players"]),
                    f(r, &["moves_per_s"]),
                    f(r, &["frames_in_per_s"]),
                    others_latency(r),
                    lost(r),
                    u(r, &["moves_rejected"]),
                    f(r, &["server", "cpu_percent"]),
                    u(r, &["server", "hwm_kb"]) / 1024,
                    f(r, &["loadgen_cpu_percent"]),
                    others_cpu(r).max(0.0),
                    u(r, &["tries"]),
                    yes(within),
                )
                .unwrap();
            }
            writeln!(
                w,
                "\n{}: largest board within {RAMP_LIMIT_MS} ms: **{best} players** (goal: about {RAMP_GOAL_PLAYERS}; {}).\n",
                v.name,
                if best >= RAMP_GOAL_PLAYERS { "met" } else { "not met" }
            )
            .unwrap();
        }
    }

    if !results.idle.is_empty() {
        writeln!(w, "### Players connected and idle\n").unwrap();
        writeln!(w, "Reproduce: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz -n 800 -r 0 -t 2 --grace 0` (server RSS before any bot connects, and once every bot has entered)\n").unwrap();
        writeln!(
            w,
            "| variant | players | RSS before | RSS connected | KiB per player | goal | met |"
        )
        .unwrap();
        writeln!(w, "|---|---|---|---|---|---|---|").unwrap();
        for (v, r) in &results.idle {
            let per = f(r, &["server", "kb_per_player"]);
            writeln!(
                w,
                "| {} | {} | {} KiB | {} KiB | {:.1} | <= {IDLE_GOAL_KB} KiB | {} |",
                v.name,
                u(r, &["entered"]),
                u(r, &["server", "rss_before_kb"]),
                u(r, &["server", "rss_connected_kb"]),
                per,
                yes(per <= IDLE_GOAL_KB && u(r, &["failed"]) == 0),
            )
            .unwrap();
        }
        writeln!(w).unwrap();
    }

    if !results.startup.is_empty() {
        let mut times: Vec<f64> = results
            .startup
            .iter()
            .map(|r| f(r, &["server", "startup_ms"]))
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        // unwrap: the list is not empty (checked above)
        let max = *times.last().unwrap();
        writeln!(w, "### Binary start to first answered request (embedded)\n").unwrap();
        writeln!(w, "Reproduce: `target/release/loadgen --spawn target/release/drapetisca --probe-path /healthz --startup-only` (from spawning the process to the first HTTP answer of `/healthz`, polled every millisecond, fresh data directory)\n").unwrap();
        writeln!(w, "| runs | median | max | goal | met |").unwrap();
        writeln!(w, "|---|---|---|---|---|").unwrap();
        writeln!(
            w,
            "| {} | {median:.1} ms | {max:.1} ms | <= {STARTUP_GOAL_MS} ms | {} |\n",
            times.len(),
            yes(max <= STARTUP_GOAL_MS)
        )
        .unwrap();
    }
    write!(w, "{END}").unwrap();
    s
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
