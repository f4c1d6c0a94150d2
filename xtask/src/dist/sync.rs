//! Copying the bundle trunk built into `dist/` without touching what did not change.
//!
//! The backend's build script watches `dist/` (`rerun-if-changed`), and cargo compares
//! timestamps: a file rewritten with the same bytes, or a file added or removed, makes it
//! embed the bundle again and recompile the backend (two minutes here). So a file is
//! written only when its content differs, in place (a rename would also touch the
//! directory), and a file the new bundle lacks is removed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use walkdir::WalkDir;

/// What a sync did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// Files written: new, or with a content that differed.
    pub written: usize,
    /// Files left alone, their content already the same.
    pub kept: usize,
    /// Files and directories removed, being in `to` but not in `from`.
    pub removed: usize,
}

/// Makes `to` hold exactly the files of `from`, with their content, writing only the
/// files whose content differs and removing those `from` lacks.
pub fn sync(from: &Path, to: &Path) -> Result<Synced> {
    let mut synced = Synced::default();
    fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
    let mut wanted = BTreeSet::new();
    for entry in WalkDir::new(from).min_depth(1).sort_by_file_name() {
        let entry = entry.with_context(|| format!("could not list {}", from.display()))?;
        let relative = relative(entry.path(), from);
        let target = to.join(&relative);
        wanted.insert(relative);
        if entry.file_type().is_dir() {
            if target.is_file() {
                remove(&target, &mut synced)?;
            }
            fs::create_dir_all(&target)
                .with_context(|| format!("could not create {}", target.display()))?;
            continue;
        }
        let content = fs::read(entry.path())
            .with_context(|| format!("could not read {}", entry.path().display()))?;
        if target.is_dir() {
            remove(&target, &mut synced)?;
        }
        if fs::read(&target).is_ok_and(|old| old == content) {
            synced.kept += 1;
            continue;
        }
        fs::write(&target, content)
            .with_context(|| format!("could not write {}", target.display()))?;
        synced.written += 1;
    }
    // deepest first, so that a stale directory is empty when its turn comes
    let stale: Vec<PathBuf> = WalkDir::new(to)
        .min_depth(1)
        .contents_first(true)
        .into_iter()
        .filter_map(Result::ok)
        .map(|entry| relative(entry.path(), to))
        .filter(|relative| !wanted.contains(relative))
        .collect();
    for relative in stale {
        remove(&to.join(relative), &mut synced)?;
    }
    Ok(synced)
}

/// `path` relative to `base`, which it lies under.
fn relative(path: &Path, base: &Path) -> PathBuf {
    // unwrap: walkdir yields paths below the directory it walks
    path.strip_prefix(base).unwrap().to_path_buf()
}

/// Removes a file or a whole directory, counting it.
fn remove(path: &Path, synced: &mut Synced) -> Result<()> {
    let removed = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match removed {
        Ok(()) => synced.removed += 1,
        // already gone with its directory
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("could not remove {}", path.display())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// A time long past, so that any rewrite shows in a file's mtime whatever the
    /// file system's resolution.
    fn long_ago() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000)
    }

    fn write_old(path: &Path, content: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(long_ago())
            .unwrap();
    }

    fn mtime(path: &Path) -> SystemTime {
        fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn only_changed_files_are_written_and_stale_ones_removed() {
        let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (from, to) = (from.path(), to.path());
        // the new bundle
        write_old(&from.join("index.html"), "<html>same</html>");
        write_old(&from.join("style-1111.css"), "new style");
        write_old(&from.join("app-2222_bg.wasm"), "new wasm");
        write_old(&from.join("snippets/a/inline.js"), "same js");
        // the bundle in place: one file the same, one changed, two stale
        write_old(&to.join("index.html"), "<html>same</html>");
        write_old(&to.join("style-1111.css"), "old style");
        write_old(&to.join("app-0000_bg.wasm"), "old wasm");
        write_old(&to.join("snippets/a/inline.js"), "same js");
        write_old(&to.join("snippets/old/gone.js"), "stale");

        let synced = sync(from, to).unwrap();

        assert_eq!(
            synced,
            Synced {
                written: 2,
                kept: 2,
                removed: 3,
            }
        );
        assert_eq!(
            mtime(&to.join("index.html")),
            long_ago(),
            "unchanged: untouched"
        );
        assert_eq!(mtime(&to.join("snippets/a/inline.js")), long_ago());
        assert_ne!(
            mtime(&to.join("style-1111.css")),
            long_ago(),
            "changed: rewritten"
        );
        assert_eq!(
            fs::read_to_string(to.join("style-1111.css")).unwrap(),
            "new style"
        );
        assert_eq!(
            fs::read_to_string(to.join("app-2222_bg.wasm")).unwrap(),
            "new wasm"
        );
        assert!(!to.join("app-0000_bg.wasm").exists(), "stale: removed");
        assert!(!to.join("snippets/old").exists(), "a stale directory too");
    }

    #[test]
    fn a_second_sync_of_the_same_bundle_touches_nothing() {
        let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (from, to) = (from.path(), to.path());
        write_old(&from.join("index.html"), "<html></html>");
        write_old(&from.join("snippets/x.js"), "js");
        sync(from, to).unwrap();
        for path in [to.join("index.html"), to.join("snippets/x.js")] {
            write_old(&path, &fs::read_to_string(&path).unwrap());
        }
        for dir in [to.to_path_buf(), to.join("snippets")] {
            fs::File::open(&dir)
                .unwrap()
                .set_modified(long_ago())
                .unwrap();
        }

        let synced = sync(from, to).unwrap();

        assert_eq!(
            synced,
            Synced {
                written: 0,
                kept: 2,
                removed: 0,
            }
        );
        for path in [to.to_path_buf(), to.join("snippets"), to.join("index.html")] {
            assert_eq!(mtime(&path), long_ago(), "{} was touched", path.display());
        }
    }
}
