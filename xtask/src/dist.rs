//! The deployable binary: the frontend built by trunk, embedded in `drapetisca`.

use std::path::PathBuf;

use anyhow::Result;

use crate::{cmd, system, tools};

/// Builds `target/release/drapetisca` with the frontend inside: trunk builds the
/// bundle into `dist/` (offline: every tool is installed beforehand, so a build never
/// downloads), then the backend's build script embeds it.
pub fn dist() -> Result<()> {
    system::ensure_build()?;
    tools::ensure_all()?;
    build()
}

/// The build of [`dist`], for callers that installed the tools already.
pub fn build() -> Result<()> {
    let path = tools::path_with_tools();
    cmd::run(
        "trunk",
        &["build", "--release", "--offline"],
        &[("PATH", &path)],
    )?;
    cmd::run("cargo", &["build", "--release", "-p", "drapetisca"], &[])
}

/// Builds the deployable binary and runs it; `args` go to drapetisca.
pub fn play(args: &[String]) -> Result<()> {
    dist()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cmd::run(&release_binary().to_string_lossy(), &args, &[])
}

/// Where cargo puts the release binary, honouring `CARGO_TARGET_DIR`.
pub fn release_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cmd::root().join("target"));
    let target = if target.is_relative() {
        cmd::root().join(target)
    } else {
        target
    };
    target.join("release/drapetisca")
}
