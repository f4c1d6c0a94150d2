//! Embeds the browser bundle built by trunk (`dist/` at the workspace root, or the
//! directory named by `DRAPETISCA_DIST`) into the binary.
//!
//! Every file becomes an entry of a table in `$OUT_DIR/assets.rs`, with its content
//! type, an ETag, whether its name is content-hashed (then it may be cached forever),
//! and a gzip copy compressed here once, at build time, when that is smaller. Zopfli
//! makes that copy: some 5% smaller than gzip's best level (6 KB less page), worth the
//! few seconds it takes once per bundle. With no
//! bundle the table is empty and the server says how to build one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-env-changed=DRAPETISCA_DIST");
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = env::var_os("DRAPETISCA_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../dist"));
    // Cargo reruns a build script whose watched path is missing on every build, which
    // would recompile the backend each time; an empty dist/ (git-ignored) is watched
    // cheaply, and trunk replacing it later is noticed.
    if !dist.exists() {
        let _ = fs::create_dir_all(&dist);
    }
    println!("cargo:rerun-if-changed={}", dist.display());

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut table = String::from("&[\n");
    let bundled = dist.join("index.html").is_file();
    if bundled {
        let mut files: Vec<_> = fs::read_dir(&dist)
            .expect("dist/ is readable")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .collect();
        files.sort_by_key(|e| e.file_name());
        for entry in files {
            let name = entry.file_name().to_string_lossy().into_owned();
            add_asset(&mut table, &out, &entry.path(), &name);
        }
    }
    table.push_str("]\n");
    fs::write(out.join("assets.rs"), table).expect("OUT_DIR is writable");
}

/// Appends one `Asset { .. }` literal for the file at `path`, served as `/{name}`.
fn add_asset(table: &mut String, out: &Path, path: &Path, name: &str) {
    let body = fs::read(path).expect("a dist file is readable");
    let etag = format!("\"{:016x}\"", fnv1a(&body));
    let gzip = compressible(name)
        .then(|| gzip(&body))
        .filter(|z| z.len() < body.len());
    let gzip = match gzip {
        Some(z) => {
            let gz_path = out.join(format!("{name}.gz"));
            fs::write(&gz_path, z).expect("OUT_DIR is writable");
            format!("Some(include_bytes!({:?}))", gz_path.display().to_string())
        }
        None => "None".into(),
    };
    let route = if name == "index.html" {
        "/".to_string()
    } else {
        format!("/{name}")
    };
    // unwrap: writing to a String cannot fail
    writeln!(
        table,
        "    Asset {{ route: {route:?}, content_type: {:?}, hashed: {}, etag: {etag:?}, \
         body: include_bytes!({:?}), gzip: {gzip} }},",
        content_type(name),
        is_hashed(name),
        path.canonicalize()
            .expect("a dist file has a canonical path")
            .display()
            .to_string(),
    )
    .unwrap();
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(name: &str) -> bool {
    !matches!(name.rsplit('.').next(), Some("png" | "ico" | "gz" | "br"))
}

/// Whether trunk put a content hash in the name (`frontend-5271d88f815a0aa0_bg.wasm`):
/// a new build gets a new name, so the old one may be cached forever.
fn is_hashed(name: &str) -> bool {
    name.split(['-', '_', '.'])
        .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        body,
        &mut out,
    )
    .expect("writing to memory cannot fail");
    out
}

/// FNV-1a, 64 bits: a stable ETag with no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
