//! Circles among a target's top-level modules: the strongly connected components of the
//! import graph (Tarjan's, from `petgraph`), each reported with every import inside it
//! and with short cycles, located edge by edge, that together pass through every one of
//! its modules.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use super::modules::Imports;

/// One problem per circle among `imports`' modules.
pub fn find(imports: &Imports) -> Vec<String> {
    let mut graph = DiGraph::<&str, ()>::new();
    let nodes: HashMap<&str, _> = imports
        .modules
        .iter()
        .map(|name| (name.as_str(), graph.add_node(name.as_str())))
        .collect();
    for (from, to) in imports.edges.keys() {
        graph.add_edge(nodes[from.as_str()], nodes[to.as_str()], ());
    }
    let mut circles: Vec<BTreeSet<&str>> = tarjan_scc(&graph)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| component.into_iter().map(|node| graph[node]).collect())
        .collect();
    circles.sort();
    circles
        .iter()
        .map(|circle| describe(imports, circle))
        .collect()
}

/// The circle in words: its modules, who imports whom inside it, then cycles through
/// every module with the file and line of each import.
fn describe(imports: &Imports, circle: &BTreeSet<&str>) -> String {
    // importer -> imported, both inside the circle, in name order so the text is stable
    let mut inside: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in imports.edges.keys() {
        if circle.contains(from.as_str()) && circle.contains(to.as_str()) {
            inside.entry(from).or_default().push(to);
        }
    }
    let names: Vec<&str> = circle.iter().copied().collect();
    let mut text = format!(
        "{}: {} top-level modules import each other in a circle: {}\n",
        imports.target,
        circle.len(),
        names.join(", ")
    );
    text.push_str("  imports inside the circle:\n");
    for (from, tos) in &inside {
        // writing to a String cannot fail
        let _ = writeln!(text, "    {from} -> {}", tos.join(", "));
    }
    text.push_str("  cycles through each of them:\n");
    let mut covered = BTreeSet::new();
    for &start in circle {
        if covered.contains(start) {
            continue;
        }
        let cycle = shortest_cycle(&inside, start);
        covered.extend(cycle.iter().copied());
        let _ = writeln!(text, "    {}", cycle.join(" -> "));
        for pair in cycle.windows(2) {
            let site = &imports.edges[&(pair[0].to_string(), pair[1].to_string())];
            let _ = writeln!(
                text,
                "      {} -> {}: {}:{} {}",
                pair[0],
                pair[1],
                site.file.display(),
                site.line,
                site.path
            );
        }
    }
    text
}

/// A shortest cycle from `start` back to itself over `edges` (breadth first, neighbours
/// in name order), as `[start, .., start]`. `start` lies in a strongly connected
/// component of two or more modules, so the cycle exists.
fn shortest_cycle<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>, start: &'a str) -> Vec<&'a str> {
    let mut parent: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for &next in edges.get(at).into_iter().flatten() {
            if next == start {
                let mut cycle = vec![start, at];
                let mut back = at;
                while let Some(&from) = parent.get(back) {
                    cycle.push(from);
                    back = from;
                }
                cycle.reverse();
                return cycle;
            }
            if !parent.contains_key(next) {
                parent.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    vec![start]
}
