//! Crates depend downward: each rule's forbidden packages, looked for in the transitive
//! closure of the crate's normal dependencies as `cargo metadata` resolved them.
//!
//! The resolve is the workspace's, with every platform's dependencies and the features
//! the whole workspace turns on, so a package reached only on wasm, or only through a
//! feature another crate enables, counts: stricter than one build, never looser.

use std::collections::{BTreeMap, HashMap, VecDeque};

use cargo_metadata::{DependencyKind, Metadata, PackageId};

use super::Layers;

/// Every problem of the dependency rules: names that match nothing, then forbidden
/// dependencies with the path through which each one comes.
pub fn check(metadata: &Metadata, layers: &Layers) -> Vec<String> {
    let graph = Graph::new(metadata);
    let mut problems = unknown_names(metadata, layers);
    for rule in layers.rules {
        let Some(krate) = graph.workspace_crate(rule.krate) else {
            // reported by unknown_names
            continue;
        };
        let reached = graph.reach(krate);
        for pattern in rule.never {
            if let Some(path) = reached.first_path(&graph, pattern) {
                problems.push(format!(
                    "{} must never depend on {}{}, but does through its normal dependencies:\n  {}",
                    rule.krate,
                    path.last().map(String::as_str).unwrap_or_default(),
                    matched_by(pattern),
                    path.join(" -> ")
                ));
            }
        }
    }
    for krate in &metadata.workspace_members {
        let reached = graph.reach(krate);
        for dev in layers.dev_only {
            if let Some(path) = reached.first_path(&graph, dev) {
                problems.push(format!(
                    "{} has {dev} among its normal dependencies, which only tests may use:\n  {}",
                    graph.name(krate),
                    path.join(" -> ")
                ));
            }
        }
    }
    problems
}

/// ` (actix-*)` after `actix-web` when a pattern matched it, nothing after an exact name.
fn matched_by(pattern: &str) -> String {
    if pattern.ends_with('*') {
        format!(" ({pattern})")
    } else {
        String::new()
    }
}

/// Whether package `name` is what `pattern` (a name, or a prefix ending in `*`) means.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// The table's names that match nothing: a rule for a crate the workspace does not
/// have, a forbidden or dev-only name no package of the workspace or its dependencies
/// carries. Each name once, with the rules that name it.
fn unknown_names(metadata: &Metadata, layers: &Layers) -> Vec<String> {
    let members: Vec<&str> = metadata
        .workspace_packages()
        .into_iter()
        .map(|package| package.name.as_str())
        .collect();
    let mut problems = Vec::new();
    let missing: Vec<&str> = layers
        .rules
        .iter()
        .map(|rule| rule.krate)
        .filter(|krate| !members.contains(krate))
        .collect();
    if !missing.is_empty() {
        let mut crates = members.clone();
        crates.sort_unstable();
        problems.push(format!(
            "rules are given for {}, which the workspace does not have (its crates: {})",
            missing.join(", "),
            crates.join(", ")
        ));
    }
    let known = |pattern: &str| {
        metadata
            .packages
            .iter()
            .any(|package| matches(pattern, package.name.as_str()))
    };
    // name -> the crates whose rule forbids it, in table order
    let mut unknown: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rule in layers.rules {
        for pattern in rule.never.iter().filter(|pattern| !known(pattern)) {
            unknown.entry(pattern).or_default().push(rule.krate);
        }
    }
    for (pattern, crates) in unknown {
        problems.push(format!(
            "{pattern}, forbidden to {}, matches no package of the workspace or its dependencies",
            crates.join(", ")
        ));
    }
    for dev in layers.dev_only.iter().filter(|dev| !known(dev)) {
        problems.push(format!(
            "{dev}, named as dev-only, matches no package of the workspace or its dependencies"
        ));
    }
    problems
}

/// The resolved packages and, per package, its normal dependencies.
struct Graph<'a> {
    /// Package names by id, for paths people read.
    names: HashMap<&'a PackageId, &'a str>,
    /// Each package's normal dependencies (dev- and build-only ones left out).
    normal: HashMap<&'a PackageId, Vec<&'a PackageId>>,
    /// The workspace's own crates by name.
    members: HashMap<&'a str, &'a PackageId>,
}

impl<'a> Graph<'a> {
    fn new(metadata: &'a Metadata) -> Self {
        let names = metadata
            .packages
            .iter()
            .map(|package| (&package.id, package.name.as_str()))
            .collect();
        let normal = metadata
            .resolve
            .iter()
            .flat_map(|resolve| &resolve.nodes)
            .map(|node| {
                let deps = node
                    .deps
                    .iter()
                    .filter(|dep| {
                        dep.dep_kinds
                            .iter()
                            .any(|info| info.kind == DependencyKind::Normal)
                    })
                    .map(|dep| &dep.pkg)
                    .collect();
                (&node.id, deps)
            })
            .collect();
        let members = metadata
            .workspace_packages()
            .into_iter()
            .map(|package| (package.name.as_str(), &package.id))
            .collect();
        Graph {
            names,
            normal,
            members,
        }
    }

    fn workspace_crate(&self, name: &str) -> Option<&'a PackageId> {
        self.members.get(name).copied()
    }

    fn name(&self, id: &PackageId) -> &'a str {
        self.names.get(id).copied().unwrap_or("?")
    }

    /// Every package `from` reaches through normal dependencies, breadth first, so the
    /// path recorded to each is a shortest one.
    fn reach(&self, from: &'a PackageId) -> Reached<'a> {
        let mut parent: HashMap<&PackageId, &PackageId> = HashMap::new();
        let mut order = Vec::new();
        let mut queue = VecDeque::from([from]);
        while let Some(id) = queue.pop_front() {
            for &dep in self.normal.get(id).into_iter().flatten() {
                if dep != from && !parent.contains_key(dep) {
                    parent.insert(dep, id);
                    order.push(dep);
                    queue.push_back(dep);
                }
            }
        }
        Reached { parent, order }
    }
}

/// The packages one crate reaches, nearest first, each with the package it was reached
/// from.
struct Reached<'a> {
    /// Which package each one was first reached from.
    parent: HashMap<&'a PackageId, &'a PackageId>,
    /// Breadth-first order: the first match of a pattern is the nearest.
    order: Vec<&'a PackageId>,
}

impl Reached<'_> {
    /// The shortest path (package names, from the crate) to the nearest package that
    /// `pattern` matches.
    fn first_path(&self, graph: &Graph, pattern: &str) -> Option<Vec<String>> {
        let mut id = *self
            .order
            .iter()
            .find(|id| matches(pattern, graph.name(id)))?;
        let mut path = vec![graph.name(id).to_string()];
        while let Some(&from) = self.parent.get(id) {
            path.push(graph.name(from).to_string());
            id = from;
        }
        path.reverse();
        Some(path)
    }
}
