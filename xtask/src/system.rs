//! Debian packages the build and the tests need, installed with apt-get when missing.

use anyhow::{bail, Result};

use crate::cmd;

/// A program and the Debian package that provides it.
struct Need {
    program: &'static str,
    package: &'static str,
    why: &'static str,
}

/// What building the backend needs.
const BUILD: &[Need] = &[Need {
    program: "protoc",
    package: "protobuf-compiler",
    why: "the pulsar crate compiles Pulsar's protobuf definitions",
}];

/// What the tests need on top.
const TEST: &[Need] = &[
    Need {
        program: "chromium",
        package: "chromium",
        why: "the end-to-end test plays in a real headless browser",
    },
    Need {
        program: "chromedriver",
        package: "chromium-driver",
        why: "the end-to-end test drives the browser",
    },
    Need {
        program: "java",
        package: "openjdk-17-jre-headless",
        why: "Apache Pulsar and Apache Cassandra run on the JVM",
    },
    Need {
        program: "openssl",
        package: "openssl",
        why: "the local services' test tokens and TLS certificates are made with it",
    },
    Need {
        program: "curl",
        package: "curl",
        why: "the services' scripts check the local Pulsar's admin API with it",
    },
    Need {
        program: "mvn",
        package: "maven",
        why: "Pulsar's and Cassandra's jars come from Maven Central",
    },
    Need {
        program: "tc",
        package: "iproute2",
        why: "the partition tests make network namespaces (`ip netns`) and drop packets on their veths (`tc`)",
    },
];

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// On the `PATH`, or in the system's `sbin` directories, which a user's `PATH` may
/// lack (`ip` and `tc` live there).
fn installed(program: &str) -> bool {
    on_path(program)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|dir| std::path::Path::new(dir).join(program).is_file())
}

fn ensure(needs: &[Need]) -> Result<()> {
    let missing: Vec<&Need> = needs.iter().filter(|n| !installed(n.program)).collect();
    for need in needs.iter().filter(|n| installed(n.program)) {
        eprintln!("xtask: {} is installed", need.program);
    }
    if missing.is_empty() {
        return Ok(());
    }
    for need in &missing {
        eprintln!(
            "xtask: installing {} ({}): {}",
            need.package, need.program, need.why
        );
    }
    if !on_path("apt-get") {
        bail!("please install these Debian packages: {}", names(&missing));
    }
    let sudo = if is_root() { vec![] } else { vec!["sudo"] };
    let run = |args: &[&str]| {
        let mut all = sudo.clone();
        all.extend_from_slice(args);
        cmd::run(all[0], &all[1..], &[("DEBIAN_FRONTEND", "noninteractive")])
    };
    run(&["apt-get", "update", "-qq"])?;
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend(missing.iter().map(|n| n.package));
    run(&install)
}

fn names(needs: &[&Need]) -> String {
    needs
        .iter()
        .map(|n| n.package)
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Packages needed to build and run the game.
pub fn ensure_build() -> Result<()> {
    ensure(BUILD)
}

/// Packages needed to build and test everything.
pub fn ensure_test() -> Result<()> {
    ensure(BUILD)?;
    ensure(TEST)
}
