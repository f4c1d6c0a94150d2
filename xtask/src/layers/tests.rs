//! The checks on small workspaces written to a temporary folder, and on this one.

use std::path::Path;

use super::{check as check_workspace, Layers, Rule, LAYERS};

/// Writes `fixture` (files, each after a `//- path` line) to a temporary folder, with a
/// root manifest naming every crate in it and an empty `src/lib.rs` for a crate given
/// none, checks it against `layers` and compares the verdict with `expected`.
fn check(fixture: &str, layers: &Layers, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = trim_indent(fixture);
    let mut crates = Vec::new();
    for file in fixture.split("//- ").skip(1) {
        let (path, text) = file.split_once('\n').unwrap_or((file, ""));
        let path = path.trim();
        if let Some(krate) = path.strip_suffix("/Cargo.toml") {
            crates.push(krate.to_string());
        }
        write(&dir.path().join(path), text);
    }
    for krate in &crates {
        let src = dir.path().join(krate).join("src");
        if !src.exists() {
            write(&src.join("lib.rs"), "");
        }
    }
    let members: Vec<String> = crates.iter().map(|krate| format!("{krate:?}")).collect();
    write(
        &dir.path().join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    );
    let verdict = check_workspace(dir.path(), layers).unwrap();
    assert_eq!(verdict.to_string().trim(), trim_indent(expected).trim());
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The text with the indentation its non-empty lines share removed.
fn trim_indent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// No rule at all: only the module cycles are checked.
const NO_RULES: Layers = Layers {
    rules: &[],
    dev_only: &[],
};

#[test]
fn the_workspace_keeps_its_layers() {
    let verdict = check_workspace(&crate::cmd::root(), &LAYERS).unwrap();
    assert!(verdict.holds(), "\n{verdict}");
}

#[test]
fn modules_that_import_each_other_are_a_cycle_shown_edge_by_edge() {
    // room.rs + room/ and registry/mod.rs layouts; a `use` group with `self`; `super`
    // through two levels to a name the root re-exports; a path in a macro's arguments
    // and an import under #[cfg(test)], both left out (else text would join the circle)
    check(
        r#"
        //- game/Cargo.toml
        [package]
        name = "game"
        edition = "2021"
        //- game/src/lib.rs
        mod registry;
        mod room;
        mod text;
        pub use registry::Lease;
        //- game/src/registry/mod.rs
        use crate::{
            room::{self, Room},
            text,
        };
        pub struct Lease;
        //- game/src/room.rs
        mod play;
        pub struct Room;
        //- game/src/room/play.rs
        pub fn play() -> super::super::Lease {
            tracing::info!("{}", crate::text::clean());
            crate::Lease
        }
        //- game/src/text.rs
        pub fn clean() {
            println!("{:?}", crate::room::Room);
        }
        #[cfg(test)]
        mod tests {
            use crate::room::Room;
        }
        "#,
        &NO_RULES,
        r#"
        layers: 1 problem

        game (lib, game/src/lib.rs): 2 top-level modules import each other in a circle: registry, room
          imports inside the circle:
            registry -> room
            room -> registry
          cycles through each of them:
            registry -> room -> registry
              registry -> room: game/src/registry/mod.rs:2 crate::room
              room -> registry: game/src/room/play.rs:1 super::super::Lease
        "#,
    );
}

#[test]
fn a_larger_circle_is_covered_by_short_cycles_and_each_target_is_its_own() {
    // the bin's modules are a tree of their own; the lib's four form one circle that
    // no single shortest cycle covers
    check(
        r#"
        //- game/Cargo.toml
        [package]
        name = "game"
        edition = "2021"
        //- game/src/lib.rs
        pub mod app;
        pub mod bus;
        pub mod config;
        pub mod ws;
        //- game/src/app.rs
        use crate::{bus::Bus, ws};
        //- game/src/bus.rs
        pub struct Bus(crate::config::Options);
        //- game/src/config.rs
        pub struct Options;
        impl Options {
            fn shared(&self) -> Option<crate::app::Shared> { None }
        }
        //- game/src/ws.rs
        pub fn serve(_: &super::app::Shared) {}
        //- game/src/main.rs
        mod cli;
        mod run;
        fn main() {}
        //- game/src/cli.rs
        use crate::run;
        //- game/src/run.rs
        "#,
        &NO_RULES,
        r#"
        layers: 1 problem

        game (lib, game/src/lib.rs): 4 top-level modules import each other in a circle: app, bus, config, ws
          imports inside the circle:
            app -> bus, ws
            bus -> config
            config -> app
            ws -> app
          cycles through each of them:
            app -> ws -> app
              app -> ws: game/src/app.rs:1 crate::ws
              ws -> app: game/src/ws.rs:1 super::app::Shared
            bus -> config -> app -> bus
              bus -> config: game/src/bus.rs:1 crate::config::Options
              config -> app: game/src/config.rs:3 crate::app::Shared
              app -> bus: game/src/app.rs:1 crate::bus::Bus
        "#,
    );
}

#[test]
fn a_forbidden_dependency_is_shown_with_the_path_it_comes_through() {
    // `web` is a dev-dependency of game: tests may use it, so it is not reported
    const LAYERS: Layers = Layers {
        rules: &[Rule {
            krate: "game",
            never: &["actix-*", "web"],
        }],
        dev_only: &[],
    };
    check(
        r#"
        //- game/Cargo.toml
        [package]
        name = "game"
        edition = "2021"
        [dependencies]
        helper = { path = "../helper" }
        [dev-dependencies]
        web = { path = "../web" }
        //- helper/Cargo.toml
        [package]
        name = "helper"
        edition = "2021"
        [dependencies]
        actix-web = { path = "../actix-web" }
        //- actix-web/Cargo.toml
        [package]
        name = "actix-web"
        edition = "2021"
        //- web/Cargo.toml
        [package]
        name = "web"
        edition = "2021"
        "#,
        &LAYERS,
        r#"
        layers: 1 problem

        game must never depend on actix-web (actix-*), but does through its normal dependencies:
          game -> helper -> actix-web
        "#,
    );
}

#[test]
fn a_dev_only_crate_among_normal_dependencies_is_shown_with_its_path() {
    const LAYERS: Layers = Layers {
        rules: &[],
        dev_only: &["test-support"],
    };
    check(
        r#"
        //- game/Cargo.toml
        [package]
        name = "game"
        edition = "2021"
        [dev-dependencies]
        test-support = { path = "../test-support" }
        //- edge/Cargo.toml
        [package]
        name = "edge"
        edition = "2021"
        [dependencies]
        test-support = { path = "../test-support" }
        //- test-support/Cargo.toml
        [package]
        name = "test-support"
        edition = "2021"
        "#,
        &LAYERS,
        r#"
        layers: 1 problem

        edge has test-support among its normal dependencies, which only tests may use:
          edge -> test-support
        "#,
    );
}

#[test]
fn a_name_in_the_rules_that_matches_nothing_fails() {
    // after a rename, the rules must follow, or they would check nothing
    const LAYERS: Layers = Layers {
        rules: &[
            Rule {
                krate: "game-core",
                never: &["tokio"],
            },
            Rule {
                krate: "game",
                never: &["bus-pulsar", "pulsar-*", "helper"],
            },
        ],
        dev_only: &["test-support"],
    };
    check(
        r#"
        //- game/Cargo.toml
        [package]
        name = "game"
        edition = "2021"
        //- helper/Cargo.toml
        [package]
        name = "helper"
        edition = "2021"
        "#,
        &LAYERS,
        r#"
        layers: 5 problems

        rules are given for game-core, which the workspace does not have (its crates: game, helper)

        bus-pulsar, forbidden to game, matches no package of the workspace or its dependencies

        pulsar-*, forbidden to game, matches no package of the workspace or its dependencies

        tokio, forbidden to game-core, matches no package of the workspace or its dependencies

        test-support, named as dev-only, matches no package of the workspace or its dependencies
        "#,
    );
}

#[test]
fn a_layered_workspace_passes() {
    // game uses rules, never the reverse; inside game the imports go one way through
    // inline modules, `self::` and `super::` within a module, a #[path] module, and a
    // name the root re-exports
    const LAYERS: Layers = Layers {
        rules: &[Rule {
            krate: "rules",
            never: &["game"],
        }],
        dev_only: &[],
    };
    check(
        r#"
        //- rules/Cargo.toml
        [package]
        name = "rules"
        edition = "2021"
        //- game/Cargo.toml
        [package]
        name = "game"
        edition = "2021"
        [dependencies]
        rules = { path = "../rules" }
        //- game/src/lib.rs
        pub mod room;
        #[path = "storage/files.rs"]
        pub mod store;
        pub mod clock {
            pub mod system {
                pub struct Now;
            }
            pub use self::system::Now;
        }
        pub use clock::Now;
        //- game/src/room.rs
        mod play;
        use crate::{store::Rows, Now};
        pub struct Room(Rows, Now);
        //- game/src/room/play.rs
        use super::Room;
        pub fn play(_: &Room) {}
        //- game/src/storage/files.rs
        pub struct Rows(pub super::clock::system::Now);
        "#,
        &LAYERS,
        "layers: ok: 1 crate rule checked, no import cycle among the top-level modules of 2 targets",
    );
}
