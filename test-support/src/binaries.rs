//! Binaries the tests run as processes of their own, built by cargo on first use (a
//! no-op when they are built already), so that `cargo test` needs no other build step.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Builds one binary (`cargo build` with `args`, which name it) and returns its path,
/// wherever the target directory is.
pub fn build(args: &[&str]) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo build {args:?} failed");
    // the last artifact line names the executable
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .next_back()
        .unwrap_or_else(|| panic!("cargo build {args:?} names no executable"))
}

/// The TCP forwarder of the partition tests (`src/bin/tcp-forward.rs`), built once per
/// test run (in the debug profile: it carries test traffic only).
pub fn forwarder() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build(&["-p", "test-support", "--bin", "tcp-forward"]))
}
