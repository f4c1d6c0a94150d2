//! Which top-level module imports which, read from a target's sources with `syn`.
//!
//! The module tree is followed as rustc does: `mod foo;` is `foo.rs` (children in
//! `foo/`) or `foo/mod.rs`, `#[path = ".."]` is honoured, inline `mod foo { .. }` too.
//! In each module, `use` trees (groups included) and paths in code that start with
//! `crate::`, `self::` or `super::` are resolved to the top-level module they land in.
//! Left out: paths inside macro arguments (token streams, not syntax), items under
//! `#[cfg(test)]`, glob imports of the crate root (`use crate::*`), and the crate root's
//! own code (it declares the modules; it is no module of its own).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_metadata::{Metadata, TargetKind};
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, Item, ItemMod, Lit, Meta, UseTree};

/// A lib or bin target of a workspace crate, whose top-level modules are checked.
pub struct Target {
    /// The package's name.
    pub package: String,
    /// `lib`, or `bin NAME`.
    pub kind: String,
    /// The crate root: `src/lib.rs`, `src/main.rs` or what the manifest names.
    pub root: PathBuf,
}

/// The imports between one target's top-level modules.
pub struct Imports {
    /// `backend (lib, backend/src/lib.rs)`: which target, for the report.
    pub target: String,
    /// The top-level modules, by name.
    pub modules: BTreeSet<String>,
    /// For each (importer, imported) pair, the first place (by file, then line) where
    /// the one imports the other.
    pub edges: BTreeMap<(String, String), Site>,
}

/// One place where a module imports another.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// The file, relative to the workspace root.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The path as written, e.g. `crate::registry::Lease`.
    pub path: String,
}

/// The lib and bin targets of every workspace crate (tests, examples, benches and build
/// scripts are not layered).
pub fn targets(metadata: &Metadata) -> Vec<Target> {
    let mut targets = Vec::new();
    for package in metadata.workspace_packages() {
        for target in &package.targets {
            let kind = if target.is_kind(TargetKind::Bin) {
                format!("bin {}", target.name)
            } else if target.kind.iter().any(|kind| {
                matches!(
                    kind,
                    TargetKind::Lib | TargetKind::RLib | TargetKind::ProcMacro
                )
            }) {
                "lib".to_string()
            } else {
                continue;
            };
            targets.push(Target {
                package: package.name.to_string(),
                kind,
                root: target.src_path.clone().into_std_path_buf(),
            });
        }
    }
    targets.sort_by(|a, b| (&a.package, &a.kind).cmp(&(&b.package, &b.kind)));
    targets
}

/// Reads `target`'s module tree and the imports between its top-level modules; paths in
/// the result are relative to `workspace`.
pub fn read(target: &Target, workspace: &Path) -> Result<Imports> {
    let root = parse(&target.root)?;
    let dir = target.root.parent().unwrap_or(Path::new("."));
    let tops: Vec<&ItemMod> = root
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Mod(module) if !test_only(&module.attrs) => Some(module),
            _ => None,
        })
        .collect();
    let modules: BTreeSet<String> = tops.iter().map(|m| m.ident.to_string()).collect();
    let aliases = root_aliases(&root.items, &modules);
    let relative = |file: &Path| file.strip_prefix(workspace).unwrap_or(file).to_path_buf();
    let mut imports = Imports {
        target: format!(
            "{} ({}, {})",
            target.package,
            target.kind,
            relative(&target.root).display()
        ),
        modules: modules.clone(),
        edges: BTreeMap::new(),
    };
    let scope = Scope { modules, aliases };
    for top in tops {
        let from = top.ident.to_string();
        let mut found = Vec::new();
        read_mod(&scope, top, &[], dir, &target.root, &mut found)?;
        for (to, mut site) in found {
            if to == from {
                continue;
            }
            site.file = relative(&site.file);
            imports
                .edges
                .entry((from.clone(), to))
                .and_modify(|first| {
                    if site < *first {
                        *first = site.clone();
                    }
                })
                .or_insert(site);
        }
    }
    Ok(imports)
}

/// What names a path may land on at the crate root.
struct Scope {
    /// The top-level modules.
    modules: BTreeSet<String>,
    /// Names the root re-exports from a top-level module (`pub use config::Settings`
    /// makes `crate::Settings` an import of `config`).
    aliases: HashMap<String, String>,
}

impl Scope {
    /// The top-level module a path written in module `at` lands in, if it leaves the
    /// module it is written in through the crate root.
    fn resolve(&self, at: &[String], segments: &[String]) -> Option<String> {
        let mut depth = at.len();
        let mut rest = segments;
        match rest.first()?.as_str() {
            "crate" => {
                depth = 0;
                rest = &rest[1..];
            }
            "self" => rest = &rest[1..],
            "super" => {
                while rest.first().map(String::as_str) == Some("super") {
                    depth = depth.checked_sub(1)?;
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        if depth > 0 {
            // still inside the top-level module the path is written in
            return None;
        }
        let name = rest.first()?;
        if self.modules.contains(name) {
            Some(name.clone())
        } else {
            self.aliases.get(name).cloned()
        }
    }
}

/// `pub use config::Settings;` at the root: `Settings` -> `config`.
fn root_aliases(items: &[Item], modules: &BTreeSet<String>) -> HashMap<String, String> {
    let mut aliases = HashMap::new();
    for item in items {
        let Item::Use(item) = item else { continue };
        if item.leading_colon.is_some() || test_only(&item.attrs) {
            continue;
        }
        let mut leaves = Vec::new();
        use_leaves(&item.tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            let segments = match leaf.segments.first().map(String::as_str) {
                Some("crate" | "self") => &leaf.segments[1..],
                _ => &leaf.segments[..],
            };
            if let (Some(module), Some(name)) = (segments.first(), leaf.binding) {
                if modules.contains(module) && segments.len() > 1 {
                    aliases.insert(name, module.clone());
                }
            }
        }
    }
    aliases
}

/// Reads module `module` (declared in `file`, whose `mod x;` children live in `dir`),
/// a child of the module at path `parent`, pushing every import that lands on a
/// top-level module to `found`.
fn read_mod(
    scope: &Scope,
    module: &ItemMod,
    parent: &[String],
    dir: &Path,
    file: &Path,
    found: &mut Vec<(String, Site)>,
) -> Result<()> {
    let mut path = parent.to_vec();
    path.push(module.ident.to_string());
    let named = path_attr(&module.attrs);
    match &module.content {
        Some((_, items)) => {
            let dir = dir.join(named.as_deref().unwrap_or(&module.ident.to_string()));
            read_items(scope, items, &path, &dir, file, found)
        }
        None => {
            let (child, child_dir) = locate(module, named.as_deref(), dir, file)?;
            let parsed = parse(&child)?;
            read_items(scope, &parsed.items, &path, &child_dir, &child, found)
        }
    }
}

fn read_items(
    scope: &Scope,
    items: &[Item],
    path: &[String],
    dir: &Path,
    file: &Path,
    found: &mut Vec<(String, Site)>,
) -> Result<()> {
    let mut reader = Reader {
        scope,
        path,
        file,
        found: Vec::new(),
        children: Vec::new(),
    };
    for item in items {
        reader.visit_item(item);
    }
    found.append(&mut reader.found);
    for child in reader.children {
        read_mod(scope, child, path, dir, file, found)?;
    }
    Ok(())
}

/// The file of `mod name;` and the folder of its own children: `dir/name.rs` or
/// `dir/name/mod.rs` (children in `dir/name/` either way), or `#[path]` (a file whose
/// children live beside it).
fn locate(
    module: &ItemMod,
    named: Option<&str>,
    dir: &Path,
    declared_in: &Path,
) -> Result<(PathBuf, PathBuf)> {
    if let Some(named) = named {
        let file = dir.join(named);
        let child_dir = file.parent().unwrap_or(dir).to_path_buf();
        return Ok((file, child_dir));
    }
    let name = module.ident.to_string();
    let flat = dir.join(format!("{name}.rs"));
    let nested = dir.join(&name).join("mod.rs");
    for file in [&flat, &nested] {
        if file.is_file() {
            return Ok((file.clone(), dir.join(&name)));
        }
    }
    bail!(
        "{}:{}: `mod {name};` has no file: neither {} nor {} exists",
        declared_in.display(),
        module.ident.span().start().line,
        flat.display(),
        nested.display()
    )
}

fn parse(file: &Path) -> Result<syn::File> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))?;
    syn::parse_file(&text).with_context(|| format!("could not parse {}", file.display()))
}

/// Collects the imports of one module's items, and its child modules for the caller to
/// read with their own path.
struct Reader<'s, 'ast> {
    /// The names the crate root offers.
    scope: &'s Scope,
    /// This module's path from the crate root, e.g. `["room", "play"]`.
    path: &'s [String],
    /// The file the items come from.
    file: &'s Path,
    /// Imports that land on a top-level module.
    found: Vec<(String, Site)>,
    /// Child modules, read after this one's items.
    children: Vec<&'ast ItemMod>,
}

impl Reader<'_, '_> {
    fn note(&mut self, segments: &[String], line: usize) {
        if let Some(to) = self.scope.resolve(self.path, segments) {
            let site = Site {
                file: self.file.to_path_buf(),
                line,
                path: segments.join("::"),
            };
            self.found.push((to, site));
        }
    }
}

impl<'ast> Visit<'ast> for Reader<'_, 'ast> {
    fn visit_item(&mut self, item: &'ast Item) {
        if !test_only(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, module: &'ast ItemMod) {
        self.children.push(module);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_some() {
            return;
        }
        let mut leaves = Vec::new();
        use_leaves(&item.tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            self.note(&leaf.segments, leaf.line);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            if let Some(first) = path.segments.first() {
                let segments: Vec<String> =
                    path.segments.iter().map(|s| s.ident.to_string()).collect();
                self.note(&segments, first.ident.span().start().line);
            }
        }
        visit::visit_path(self, path);
    }
}

/// One name a `use` tree brings in: `use crate::{a, b::c as d}` has two.
struct Leaf {
    /// The full path, `*` last for a glob.
    segments: Vec<String>,
    /// The name it binds (`d` for `c as d`), none for a glob.
    binding: Option<String>,
    /// The line of the leaf, so each item of a multi-line group points at itself.
    line: usize,
}

fn use_leaves(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<Leaf>) {
    let mut leaf = |last: String, binding: Option<String>, line: usize| {
        let mut segments = prefix.clone();
        segments.push(last);
        out.push(Leaf {
            segments,
            binding,
            line,
        });
    };
    match tree {
        UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            use_leaves(&path.tree, prefix, out);
            prefix.pop();
        }
        // `use crate::room::{self, Room}`: the `self` leaf is `crate::room` itself
        UseTree::Name(name) if name.ident == "self" => {
            if let Some(last) = prefix.last().cloned() {
                out.push(Leaf {
                    segments: prefix.clone(),
                    binding: Some(last),
                    line: name.ident.span().start().line,
                });
            }
        }
        UseTree::Name(name) => {
            let ident = name.ident.to_string();
            leaf(ident.clone(), Some(ident), name.ident.span().start().line);
        }
        UseTree::Rename(rename) => leaf(
            rename.ident.to_string(),
            Some(rename.rename.to_string()),
            rename.ident.span().start().line,
        ),
        UseTree::Glob(glob) => leaf("*".into(), None, glob.star_token.span.start().line),
        UseTree::Group(group) => {
            for tree in &group.items {
                use_leaves(tree, prefix, out);
            }
        }
    }
}

/// `#[cfg(test)]`: compiled for the crate's unit tests only.
fn test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| match &attr.meta {
        Meta::List(list) => list.path.is_ident("cfg") && list.tokens.to_string() == "test",
        _ => false,
    })
}

/// `#[path = "file.rs"]` on a module.
fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        Meta::NameValue(pair) if pair.path.is_ident("path") => match &pair.value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(text) => Some(text.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    })
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        Item::ExternCrate(item) => &item.attrs,
        Item::Fn(item) => &item.attrs,
        Item::ForeignMod(item) => &item.attrs,
        Item::Impl(item) => &item.attrs,
        Item::Macro(item) => &item.attrs,
        Item::Mod(item) => &item.attrs,
        Item::Static(item) => &item.attrs,
        Item::Struct(item) => &item.attrs,
        Item::Trait(item) => &item.attrs,
        Item::TraitAlias(item) => &item.attrs,
        Item::Type(item) => &item.attrs,
        Item::Union(item) => &item.attrs,
        Item::Use(item) => &item.attrs,
        _ => &[],
    }
}
