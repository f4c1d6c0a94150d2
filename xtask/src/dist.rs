//! The deployable binary: the frontend built by trunk, embedded in `drapetisca`.
//!
//! A build with nothing changed is quick: trunk is skipped when nothing it reads
//! changed ([`stamp`]), and `dist/` is written only where the bundle's content differs
//! ([`sync`]), so cargo sees nothing new and the backend is not compiled again.

mod stamp;
mod sync;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::{cmd, system, tools};

/// Builds `target/release/drapetisca` with the frontend inside: trunk builds the
/// bundle (offline: every tool is installed beforehand, so a build never downloads),
/// it is copied into `dist/`, then the backend's build script embeds it.
pub fn dist() -> Result<()> {
    system::ensure_build()?;
    tools::ensure_all()?;
    build()
}

/// The build of [`dist`], for callers that installed the tools already.
pub fn build() -> Result<()> {
    bundle()?;
    cmd::run("cargo", &["build", "--release", "-p", "drapetisca"], &[])
}

/// Brings `dist/` up to date with the sources: trunk builds into a directory of ours
/// below the target directory (`trunk serve` keeps `dist/` for itself, see
/// Trunk.toml), unless the stamp says that bundle is still the sources' one; then the
/// bundle is copied into `dist/`, file by file where the content differs.
fn bundle() -> Result<()> {
    let path = tools::path_with_tools();
    let root = cmd::root();
    let ours = bundle_dir(&root);
    std::fs::create_dir_all(&ours)?;
    let (built, stamp) = (ours.join("dist"), ours.join("stamp"));
    let inputs = stamp::inputs(&root, &tool_versions(&path))?;
    if stamp::is_fresh(&stamp, &inputs, &built)? {
        eprintln!("xtask: nothing the bundle is built from changed: trunk skipped");
    } else {
        stamp::clear(&stamp)?;
        let built_arg = built.to_string_lossy();
        cmd::run(
            "trunk",
            &["build", "--release", "--offline", "--dist", &built_arg],
            &[("PATH", &path)],
        )?;
        stamp::write(&stamp, &inputs, &built)?;
    }
    let synced = sync::sync(&built, &root.join("dist"))?;
    eprintln!(
        "xtask: dist/: {} files written, {} unchanged, {} removed",
        synced.written, synced.kept, synced.removed
    );
    Ok(())
}

/// The versions of the tools that make the bundle, as they report them.
fn tool_versions(path: &str) -> Vec<String> {
    let version = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .env("PATH", path)
            .current_dir(cmd::root())
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_else(|e| format!("{program}: {e}"))
    };
    vec![
        version("rustc", "-vV"),
        version("trunk", "--version"),
        version("wasm-bindgen", "--version"),
        version("wasm-opt", "--version"),
    ]
}

/// Where this checkout's bundle is built: below the target directory, one per
/// checkout, since checkouts may share a target directory.
fn bundle_dir(root: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let checkout = Sha256::digest(root.as_os_str().as_encoded_bytes());
    let key: String = checkout[..8].iter().map(|b| format!("{b:02x}")).collect();
    target_dir().join("bundle").join(key)
}

/// Builds the deployable binary and runs it; `args` go to drapetisca.
pub fn play(args: &[String]) -> Result<()> {
    dist()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cmd::run(&release_binary().to_string_lossy(), &args, &[])
}

/// Where cargo puts the release binary, honouring `CARGO_TARGET_DIR`.
pub fn release_binary() -> PathBuf {
    target_dir().join("release/drapetisca")
}

/// The target directory, honouring `CARGO_TARGET_DIR`.
fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cmd::root().join("target"));
    if target.is_relative() {
        cmd::root().join(target)
    } else {
        target
    }
}
