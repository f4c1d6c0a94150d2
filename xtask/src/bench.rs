//! Benchmark scenarios: the load generator against a local server, figures written to
//! `docs/benchmarks.md`.

use anyhow::{bail, Result};

pub fn run(_args: &[String]) -> Result<()> {
    bail!("the benchmarks are not written yet")
}
