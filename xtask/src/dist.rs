//! The deployable binary: the frontend built by trunk, embedded in `drapetisca`.

use anyhow::Result;

use crate::{cmd, system, tools};

/// Builds `target/release/drapetisca` with the frontend inside.
pub fn dist() -> Result<()> {
    system::ensure_build()?;
    tools::ensure_all()?;
    cmd::run("cargo", &["build", "--release", "-p", "backend"], &[])
}

/// Builds the deployable binary and runs it; `args` go to drapetisca.
pub fn play(args: &[String]) -> Result<()> {
    dist()?;
    let bin = cmd::root().join("target/release/drapetisca");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cmd::run(&bin.to_string_lossy(), &args, &[])
}
