//! Whether the bundle trunk built last is still the bundle of the sources, so that
//! `cargo xtask dist` can skip trunk when nothing it reads changed: even then trunk
//! takes tens of seconds (wasm-bindgen and wasm-opt run again).
//!
//! The stamp holds a digest of everything the bundle is built from (the files trunk and
//! cargo read, the tools' versions, the environment that steers them) and a digest of
//! the bundle trunk made. Contents, not timestamps: a `touch`, a checkout or a branch
//! switched back leave the digest alone, and any changed byte changes it. The bundle's
//! digest catches a bundle changed or lost since (never a stale page served).

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

/// What the bundle is built from, relative to the workspace root: the page, trunk's and
/// cargo's settings (the wasm-release profile is in Cargo.toml), the lock file, the
/// frontend crate (its styles and assets too) and the workspace crates it uses.
pub const INPUTS: &[&str] = &[
    "index.html",
    "Trunk.toml",
    "Cargo.toml",
    "Cargo.lock",
    ".cargo",
    "frontend",
    "protocol",
    "rules",
];

/// Environment variables that change what trunk or cargo build, by prefix.
const STEERING: &[&str] = &[
    "TRUNK_",
    "CARGO_PROFILE_",
    "CARGO_BUILD_",
    "CARGO_TARGET_WASM32",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC",
    "RUSTUP_TOOLCHAIN",
];

/// The digest of what a bundle is built from: the [`INPUTS`] under `root` (paths and
/// contents; a missing one counts as missing), `tools` (their versions, as the caller
/// read them) and the steering environment.
pub fn inputs(root: &Path, tools: &[String]) -> Result<String> {
    let mut digest = Sha256::new();
    for input in INPUTS {
        add_tree(&mut digest, &root.join(input), OsStr::new(input))?;
    }
    for tool in tools {
        add_field(&mut digest, tool.as_bytes());
    }
    let mut steering: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| STEERING.iter().any(|p| name.starts_with(p)))
        .collect();
    steering.sort();
    for (name, value) in steering {
        add_field(&mut digest, name.as_bytes());
        add_field(&mut digest, value.as_bytes());
    }
    Ok(hex(digest))
}

/// The digest of the files under `dir`: their paths and contents.
pub fn tree(dir: &Path) -> Result<String> {
    let mut digest = Sha256::new();
    add_tree(&mut digest, dir, OsStr::new(""))?;
    Ok(hex(digest))
}

/// Whether `stamp` says the bundle in `bundle` was built from `inputs`, and the bundle
/// is still what was built.
pub fn is_fresh(stamp: &Path, inputs: &str, bundle: &Path) -> Result<bool> {
    let Ok(text) = fs::read_to_string(stamp) else {
        return Ok(false);
    };
    Ok(bundle.is_dir() && text == content(inputs, &tree(bundle)?))
}

/// Records that the bundle now in `bundle` was built from `inputs`.
pub fn write(stamp: &Path, inputs: &str, bundle: &Path) -> Result<()> {
    let text = content(inputs, &tree(bundle)?);
    fs::write(stamp, text).with_context(|| format!("could not write {}", stamp.display()))
}

/// Forgets the stamp, before a build that might not finish.
pub fn clear(stamp: &Path) -> Result<()> {
    match fs::remove_file(stamp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("could not remove {}", stamp.display()))
        }
        _ => Ok(()),
    }
}

fn content(inputs: &str, bundle: &str) -> String {
    format!("inputs {inputs}\nbundle {bundle}\n")
}

/// Feeds every file under `path` (or `path` itself, if a file) to `digest`, in name
/// order: its path, named from `name`, and its content.
fn add_tree(digest: &mut Sha256, path: &Path, name: &OsStr) -> Result<()> {
    if !path.exists() {
        add_field(digest, name.as_encoded_bytes());
        add_field(digest, b"missing");
        return Ok(());
    }
    let files = WalkDir::new(path).follow_links(true).sort_by_file_name();
    for entry in files {
        let entry = entry.with_context(|| format!("could not list {}", path.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        // unwrap: walkdir yields paths below the one it walks
        let below = entry.path().strip_prefix(path).unwrap();
        let named = Path::new(name).join(below);
        let body = fs::read(entry.path())
            .with_context(|| format!("could not read {}", entry.path().display()))?;
        add_field(digest, named.as_os_str().as_encoded_bytes());
        add_field(digest, &body);
    }
    Ok(())
}

/// Feeds one field, length first, so that no two sequences of fields feed the same bytes.
fn add_field(digest: &mut Sha256, bytes: &[u8]) {
    digest.update((bytes.len() as u64).to_le_bytes());
    digest.update(bytes);
}

fn hex(digest: Sha256) -> String {
    digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn workspace() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (path, body) in [
            ("index.html", "<html></html>"),
            ("Cargo.lock", "lock"),
            ("frontend/src/main.rs", "fn main() {}"),
            ("frontend/style.css", "body {}"),
            ("rules/src/lib.rs", "// rules"),
        ] {
            let path = root.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, body).unwrap();
        }
        root
    }

    #[test]
    fn the_inputs_digest_follows_content_not_timestamps() {
        let root = workspace();
        let root = root.path();
        let tools = vec!["trunk 0.21.14".to_string()];
        let first = inputs(root, &tools).unwrap();
        assert_eq!(inputs(root, &tools).unwrap(), first, "stable");

        let style = root.join("frontend/style.css");
        fs::File::options()
            .write(true)
            .open(&style)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(3600))
            .unwrap();
        assert_eq!(
            inputs(root, &tools).unwrap(),
            first,
            "a touch changes nothing"
        );

        let changed = |root: &Path| inputs(root, &tools).unwrap() != first;
        fs::write(&style, "body { color: red }").unwrap();
        assert!(changed(root), "an edited style");
        fs::write(&style, "body {}").unwrap();
        assert!(!changed(root), "edited back");
        fs::write(root.join("protocol.rs"), "").unwrap();
        assert!(!changed(root), "a file trunk does not read");
        fs::create_dir_all(root.join("protocol/src")).unwrap();
        fs::write(root.join("protocol/src/lib.rs"), "").unwrap();
        assert!(changed(root), "a new file in a crate the frontend uses");
        fs::remove_dir_all(root.join("protocol")).unwrap();
        fs::rename(
            root.join("frontend/src/main.rs"),
            root.join("frontend/src/lib.rs"),
        )
        .unwrap();
        assert!(changed(root), "a renamed file");
        fs::rename(
            root.join("frontend/src/lib.rs"),
            root.join("frontend/src/main.rs"),
        )
        .unwrap();
        assert!(!changed(root));
        let newer = vec!["trunk 0.21.15".to_string()];
        assert_ne!(inputs(root, &newer).unwrap(), first, "another tool version");
    }

    #[test]
    fn a_stamp_is_fresh_only_for_its_inputs_and_its_untouched_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let (stamp, bundle) = (dir.path().join("stamp"), dir.path().join("bundle"));
        fs::create_dir_all(bundle.join("snippets")).unwrap();
        fs::write(bundle.join("index.html"), "<html></html>").unwrap();
        fs::write(bundle.join("snippets/x.js"), "js").unwrap();

        assert!(!is_fresh(&stamp, "a", &bundle).unwrap(), "no stamp yet");
        write(&stamp, "a", &bundle).unwrap();
        assert!(is_fresh(&stamp, "a", &bundle).unwrap());
        assert!(!is_fresh(&stamp, "b", &bundle).unwrap(), "other inputs");

        fs::write(bundle.join("snippets/x.js"), "changed").unwrap();
        assert!(!is_fresh(&stamp, "a", &bundle).unwrap(), "a changed bundle");
        fs::write(bundle.join("snippets/x.js"), "js").unwrap();
        assert!(is_fresh(&stamp, "a", &bundle).unwrap());
        fs::write(bundle.join("extra.js"), "").unwrap();
        assert!(!is_fresh(&stamp, "a", &bundle).unwrap(), "an added file");
        fs::remove_file(bundle.join("extra.js")).unwrap();

        clear(&stamp).unwrap();
        assert!(!is_fresh(&stamp, "a", &bundle).unwrap(), "cleared");
        clear(&stamp).unwrap();
        write(&stamp, "a", &bundle).unwrap();
        fs::remove_dir_all(&bundle).unwrap();
        assert!(!is_fresh(&stamp, "a", &bundle).unwrap(), "a lost bundle");
    }
}
