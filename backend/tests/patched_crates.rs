//! The dependencies carried as patched copies in `vendor/` are the ones the server is
//! built with. A `[patch.crates-io]` entry left out (or commented out, as happened once
//! to `pulsar`) builds and passes every behavioural test while silently dropping the
//! change; this catches it from the lock file, which records where each package came
//! from: a registry package has a `source`, a patched path copy has none.

use std::path::Path;

/// The patched crates, each with what losing its patch would cost.
const PATCHED: &[(&str, &str)] = &[
    ("pulsar", "Nagle on broker connections (vendor/pulsar)"),
    (
        "actix-http",
        "8 KiB buffers held by every idle connection (vendor/actix-http)",
    ),
    (
        "actix-ws",
        "a read buffer kept alive by every idle socket (vendor/actix-ws)",
    ),
];

/// The `[[package]]` entries of a `Cargo.lock` named `name`, each as its lines.
fn packages<'a>(lock: &'a str, name: &str) -> Vec<Vec<&'a str>> {
    let wanted = format!("name = \"{name}\"");
    lock.split("[[package]]")
        .map(|entry| entry.lines().map(str::trim).collect::<Vec<_>>())
        .filter(|lines| lines.contains(&wanted.as_str()))
        .collect()
}

#[test]
fn every_patched_crate_resolves_to_its_copy_in_vendor() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lock =
        std::fs::read_to_string(root.join("Cargo.lock")).expect("the workspace's Cargo.lock");
    for (name, loss) in PATCHED {
        assert!(
            root.join("vendor").join(name).join("Cargo.toml").is_file(),
            "vendor/{name} is missing"
        );
        let found = packages(&lock, name);
        assert_eq!(
            found.len(),
            1,
            "{name}: one version in Cargo.lock, found {found:?}"
        );
        let from_registry = found[0].iter().find(|l| l.starts_with("source ="));
        assert!(
            from_registry.is_none(),
            "{name} comes from {from_registry:?}, not vendor/{name}: its [patch.crates-io] \
             entry is not in effect, and the server is back to {loss}"
        );
    }
}

#[test]
fn a_registry_package_is_told_from_a_patched_one() {
    // the check above must be able to fail: the same reading of a lock file in which
    // actix-http comes from the registry finds its source
    let lock = "[[package]]\nname = \"actix-http\"\nversion = \"3.20.0\"\n\
                source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                [[package]]\nname = \"actix-ws\"\nversion = \"0.4.0\"\n";
    let http = packages(lock, "actix-http");
    assert!(http[0].iter().any(|l| l.starts_with("source =")));
    let ws = packages(lock, "actix-ws");
    assert!(!ws[0].iter().any(|l| l.starts_with("source =")));
    assert!(
        packages(lock, "actix").is_empty(),
        "a name matches whole, not a prefix"
    );
}
