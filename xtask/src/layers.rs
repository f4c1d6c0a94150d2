//! `cargo xtask layers`: the layering of ARCHITECTURE.md, checked on the workspace as
//! `cargo metadata` and the sources describe it.
//!
//! - **Crates depend downward** ([`deps`]): for each crate in [`RULES`], the transitive
//!   closure of its *normal* dependencies must not contain a package its rule forbids
//!   (dev- and build-dependencies are not followed: they never ship inside the crate).
//!   Every name in the table must match something, so that a rename or a typo cannot
//!   make a rule pass by checking nothing: a rule for a crate that is not in the
//!   workspace, or forbidding a name that matches no package at all, is itself a failure.
//! - **Modules import one way** ([`modules`], [`cycles`]): in every workspace crate, the
//!   top-level modules of each lib and bin target must not import each other in a
//!   circle. The imports are read from the sources with `syn`: `use` trees and paths
//!   that start with `crate::`, `self::` or `super::`, and names the crate root
//!   re-exports (`crate::Settings` is `config`'s). Not read, by choice: paths inside
//!   macro arguments (`tracing::info!(..)`, `format!(..)` are token streams, not syntax),
//!   and items under `#[cfg(test)]` (a test may reach across modules; the shipped code
//!   may not).

mod cycles;
mod deps;
mod modules;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use cargo_metadata::MetadataCommand;

/// The crates of the server, which the page and the load generator never pull in.
const SERVER: &[&str] = &[
    "game-core",
    "bus-pulsar",
    "store-cassandra",
    "cluster",
    "edge",
    "drapetisca",
];

/// The layers, bottom to top (see ARCHITECTURE.md): each crate and the packages it must
/// never depend on, directly or through others. `actix-*` matches every package whose
/// name starts with `actix-`.
pub const RULES: &[Rule] = &[
    // wire types and pure rules: no IO, native and wasm
    Rule {
        krate: "protocol",
        never: &["tokio", "actix-*", "pulsar", "scylla", "yew"],
    },
    Rule {
        krate: "rules",
        never: &["tokio", "actix-*", "pulsar", "scylla", "yew"],
    },
    // the game core sees ports, never the web server, the broker, the database or
    // whatever implements its ports
    Rule {
        krate: "game-core",
        never: &[
            "actix-web",
            "actix-ws",
            "actix-http",
            "pulsar",
            "scylla",
            "bus-pulsar",
            "store-cassandra",
            "cluster",
            "edge",
            "drapetisca",
        ],
    },
    // adapters implement one port each and know neither HTTP nor the cluster
    Rule {
        krate: "bus-pulsar",
        never: &["cluster", "edge", "drapetisca", "actix-*", "scylla"],
    },
    Rule {
        krate: "store-cassandra",
        never: &["cluster", "edge", "drapetisca", "actix-*", "pulsar"],
    },
    // the cluster composes core and adapters, below HTTP
    Rule {
        krate: "cluster",
        never: &["edge", "drapetisca", "actix-*"],
    },
    // the edge asks placement where a game runs; it never sees Pulsar or Cassandra
    Rule {
        krate: "edge",
        never: &[
            "pulsar",
            "scylla",
            "bus-pulsar",
            "store-cassandra",
            "cluster",
        ],
    },
    // the page and the load generator speak the protocol (the page predicts with the
    // rules), nothing of the server
    Rule {
        krate: "frontend",
        never: SERVER,
    },
    Rule {
        krate: "loadgen",
        never: SERVER,
    },
];

/// Crates only tests may use: no workspace crate has one among its normal dependencies.
pub const DEV_ONLY: &[&str] = &["test-support"];

/// The table this project's layering is checked against.
pub const LAYERS: Layers = Layers {
    rules: RULES,
    dev_only: DEV_ONLY,
};

/// One crate's rule: the packages it must never depend on, directly or through others.
pub struct Rule {
    /// The workspace crate (its package name) the rule is about.
    pub krate: &'static str,
    /// Package names, or prefixes ending in `*`, that its normal dependencies must never
    /// reach.
    pub never: &'static [&'static str],
}

/// A whole rule table: what [`check`] holds a workspace to.
pub struct Layers {
    /// Per crate, what it must never depend on.
    pub rules: &'static [Rule],
    /// Packages no crate may have among its normal dependencies.
    pub dev_only: &'static [&'static str],
}

/// What [`check`] found: nothing, or each broken invariant as text to print.
pub struct Verdict {
    /// How many crate rules were checked, for the line that says all is well.
    rules: usize,
    /// How many targets had their modules checked, for the same line.
    targets: usize,
    /// One entry per problem (a missing name, a forbidden dependency, a cycle), each
    /// complete and readable on its own.
    problems: Vec<String>,
}

impl Verdict {
    /// Whether every invariant holds.
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.holds() {
            return writeln!(
                f,
                "layers: ok: {} checked, no import cycle among the top-level modules of {}",
                count(self.rules, "crate rule"),
                count(self.targets, "target")
            );
        }
        writeln!(f, "layers: {}", count(self.problems.len(), "problem"))?;
        for problem in &self.problems {
            writeln!(f, "\n{}", problem.trim_end())?;
        }
        Ok(())
    }
}

/// `1 problem`, `2 problems`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// `cargo xtask layers`: checks this workspace, prints the verdict, fails on a problem.
pub fn run(root: &Path) -> Result<()> {
    let verdict = check(root, &LAYERS)?;
    print!("{verdict}");
    if !verdict.holds() {
        bail!("the layering is broken (the rule table is at the top of xtask/src/layers.rs)");
    }
    Ok(())
}

/// Checks the workspace whose root manifest is in `root` against `layers`. Fails only
/// when the workspace cannot be read (cargo metadata, a source file that does not parse
/// or a `mod` without its file); broken invariants are the verdict's.
pub fn check(root: &Path, layers: &Layers) -> Result<Verdict> {
    let metadata = MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .exec()
        .with_context(|| format!("could not read the cargo metadata of {}", root.display()))?;
    let mut problems = deps::check(&metadata, layers);
    let targets = modules::targets(&metadata);
    for target in &targets {
        let imports = modules::read(target, metadata.workspace_root.as_std_path())?;
        problems.extend(cycles::find(&imports));
    }
    Ok(Verdict {
        rules: layers.rules.len(),
        targets: targets.len(),
        problems,
    })
}
