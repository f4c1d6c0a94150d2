//! Installs the build's tools on a fresh machine, skipping what is already there:
//! the wasm32 target, trunk 0.21, wasm-bindgen-cli at exactly the version Cargo.lock
//! pins (its output must match the `wasm-bindgen` crate), and wasm-opt from the npm
//! package binaryen@132 (trunk's release build runs it; the version is pinned in
//! Trunk.toml). Installers run with their output shown, so progress stays visible.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cmd;

/// The trunk series Trunk.toml and index.html are written for.
const TRUNK_SERIES: &str = "0.21.";
/// Passed to `cargo install` when trunk is missing.
const TRUNK_REQUIREMENT: &str = "~0.21";
/// The binaryen release Trunk.toml's `wasm_opt` names.
const BINARYEN: &str = "132";

/// Makes sure every tool the build and the tests need is installed.
pub fn ensure_all() -> Result<()> {
    ensure_wasm_target()?;
    ensure_trunk()?;
    ensure_wasm_bindgen()?;
    ensure_wasm_opt()?;
    Ok(())
}

/// `PATH` with the directory of our wasm-opt in front, for running trunk.
pub fn path_with_tools() -> String {
    let mut dirs = vec![binaryen_dir().join("node_modules/.bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn ensure_wasm_target() -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        skip("the wasm32-unknown-unknown target");
        return Ok(());
    }
    eprintln!("xtask: installing the wasm32-unknown-unknown target");
    cmd::run("rustup", &["target", "add", "wasm32-unknown-unknown"], &[])
}

fn ensure_trunk() -> Result<()> {
    // `trunk 0.21.14`
    let found = output("trunk", &["--version"]);
    let version = found.as_deref().and_then(|v| v.split_whitespace().nth(1));
    if let Some(v) = version.filter(|v| v.starts_with(TRUNK_SERIES)) {
        skip(&format!("trunk {v}"));
        return Ok(());
    }
    eprintln!(
        "xtask: installing trunk {TRUNK_REQUIREMENT} (found {}); compiling it takes a few minutes",
        version.unwrap_or("none")
    );
    cmd::run(
        "cargo",
        &[
            "install",
            "trunk",
            "--locked",
            "--version",
            TRUNK_REQUIREMENT,
        ],
        &[],
    )
}

fn ensure_wasm_bindgen() -> Result<()> {
    let wanted = locked_version("wasm-bindgen")?;
    // `wasm-bindgen 0.2.130`
    let found = output("wasm-bindgen", &["--version"]);
    let version = found.as_deref().and_then(|v| v.split_whitespace().nth(1));
    if version == Some(wanted.as_str()) {
        skip(&format!("wasm-bindgen-cli {wanted}"));
        return Ok(());
    }
    eprintln!(
        "xtask: installing wasm-bindgen-cli {wanted}, the version in Cargo.lock (found {}); \
         compiling it takes a few minutes",
        version.unwrap_or("none")
    );
    // not --locked: the CLI's own lock file can pin crates that no longer build with a
    // current compiler
    cmd::run(
        "cargo",
        &["install", "wasm-bindgen-cli", "--version", &wanted],
        &[],
    )
}

fn ensure_wasm_opt() -> Result<()> {
    let bin = binaryen_dir().join("node_modules/.bin/wasm-opt");
    // `wasm-opt version 132 (version_132)`
    let found = output(&bin.to_string_lossy(), &["--version"]);
    if found.as_deref().and_then(|v| v.split_whitespace().nth(2)) == Some(BINARYEN) {
        skip(&format!("wasm-opt {BINARYEN} ({})", bin.display()));
        return Ok(());
    }
    let dir = binaryen_dir();
    eprintln!(
        "xtask: installing wasm-opt from npm binaryen@{BINARYEN} into {}",
        dir.display()
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let package = format!("binaryen@{BINARYEN}");
    let prefix = dir.to_string_lossy();
    cmd::run(
        "npm",
        &[
            "install",
            "--prefix",
            &prefix,
            "--no-audit",
            "--no-fund",
            "--progress=true",
            &package,
        ],
        &[],
    )
}

/// Where our binaryen lives: `$DRAPETISCA_TOOLS/binaryen`, by default
/// `~/.cache/drapetisca/binaryen`, shared by every checkout on the machine.
fn binaryen_dir() -> PathBuf {
    let base = std::env::var_os("DRAPETISCA_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/drapetisca")))
        .unwrap_or_else(|| cmd::root().join("target/tools"));
    base.join("binaryen")
}

/// The version of `package` that Cargo.lock pins.
fn locked_version(package: &str) -> Result<String> {
    let path = cmd::root().join("Cargo.lock");
    let lock = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == name_line {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = ")) {
                return Ok(version.trim_matches('"').to_string());
            }
        }
    }
    bail!("{package} is not in Cargo.lock; is the frontend a workspace member?")
}

/// The trimmed standard output of a command that succeeded, or `None`.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn skip(what: &str) {
    eprintln!("xtask: {what} already installed, skipping");
}
