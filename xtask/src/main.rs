//! `cargo xtask`: the one entry point for setting up, building, running, testing and
//! benchmarking Drapetisca on a fresh machine.
//!
//! # Layout
//!
//! - [`tools`]: installs what the build needs (wasm32 target, trunk, wasm-bindgen-cli,
//!   wasm-opt), skipping what is already there.
//! - [`dist`]: builds the frontend with trunk (skipped when nothing it reads changed)
//!   and the release binary that embeds it; a run with nothing changed takes seconds.
//! - [`services`]: starts and stops the local Apache Pulsar and Apache Cassandra.
//! - [`bench`]: runs the load-generator scenarios and writes `docs/benchmarks.md`.
//! - [`layers`]: checks the layering: what each crate must never depend on, and that
//!   the top-level modules of every crate import one way.
//! - [`system`]: Debian packages the build and tests need (protoc, chromium, a JDK).
//! - [`cmd`]: running child processes with their output shown.

mod bench;
mod cmd;
mod dist;
mod layers;
mod services;
mod system;
mod tools;

use anyhow::{bail, Context, Result};

const HELP: &str = "\
cargo xtask <command>

  play            build everything (installing what is missing) and run the game
                  at http://127.0.0.1:8000 (extra arguments go to drapetisca)
  test            install what is missing, start the services, run every test,
                  stop the services
  dist            build the release binary with the frontend embedded
  services up     start local Apache Pulsar and Apache Cassandra (idempotent)
  services down   stop them
  layers          check the layering: forbidden dependencies between crates, and
                  import cycles among each crate's top-level modules
  bench           run the benchmark scenarios and write docs/benchmarks.md
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = || args[1..].to_vec();
    match args.first().map(String::as_str) {
        Some("play") => dist::play(&rest()),
        Some("test") => test(),
        Some("dist") => dist::dist(),
        Some("services") => match args.get(1).map(String::as_str) {
            Some("up") => services::up(&args[2..]),
            Some("down") => services::down(&args[2..]),
            _ => bail!("usage: cargo xtask services up|down [pulsar|cassandra]"),
        },
        Some("layers") => layers::run(&cmd::root()),
        Some("bench") => bench::run(&rest()),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}

/// Every test of the workspace, with the services they talk to running.
fn test() -> Result<()> {
    system::ensure_test()?;
    tools::ensure_all()?;
    dist::build()?;
    services::up(&[])?;
    // both suites run even when the first fails, so one CI run shows every failure
    // without backtraces a failing test's message is the last thing it prints, which is
    // what a CI log cut to its head and tail keeps; one build runs both tiers: the
    // tests that need nothing (a plain `cargo test`) and, with `integration`, those on
    // the services, the release binary and the bundle
    let suites = cmd::run(
        "cargo",
        &[
            "test",
            "--workspace",
            "--no-fail-fast",
            "--features",
            "drapetisca/integration",
        ],
        &[("RUST_BACKTRACE", "0")],
    );
    let browser = end_to_end();
    // the services stop with the run, even a failed one; `cargo xtask services up` keeps
    // them for repeated `cargo test` runs instead
    let stopped = services::down(&[]);
    suites.and(browser).and(stopped)
}

/// Every end-to-end test file, `e2e/*.mjs`: real headless Chromium pages play against
/// the release binary. All of them run even when one fails, so one run shows every
/// failure; helpers they share live below `e2e/lib/`.
fn end_to_end() -> Result<()> {
    cmd::run(
        "npm",
        &["ci", "--prefix", "e2e", "--no-audit", "--no-fund"],
        &[],
    )?;
    let bin = dist::release_binary();
    let mut tests: Vec<String> = std::fs::read_dir(cmd::root().join("e2e"))
        .context("could not list e2e/")?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".mjs"))
        .collect();
    tests.sort();
    if tests.is_empty() {
        bail!("no end-to-end tests found in e2e/");
    }
    let failed: Vec<&str> = tests
        .iter()
        .filter(|test| {
            cmd::run(
                "node",
                &[&format!("e2e/{test}")],
                &[("DRAPETISCA_BIN", &bin.to_string_lossy())],
            )
            .is_err()
        })
        .map(String::as_str)
        .collect();
    if !failed.is_empty() {
        bail!("end-to-end tests failed: {}", failed.join(", "));
    }
    Ok(())
}
