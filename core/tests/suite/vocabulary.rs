//! The shared vocabularies agree everywhere they are written down: the error codes in
//! `ErrorCode::ALL`, the README's table and the Node typings' union (the Python classes and the
//! CLI's exit codes are checked against the same README table by pytest and the CLI's tests), and
//! the core's modules import one another one way only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kitty_orchestrator::ErrorCode;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn all_codes() -> BTreeSet<String> {
    ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect()
}

/// The codes in the README's error table (rows "| `code` | … |" after "| code | meaning").
fn readme_codes() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("docs/errors.md")).unwrap();
    let table = readme.split("| code | meaning |").nth(1).expect("the README has an error-code table");
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('|').nth(1).unwrap().trim().trim_matches('`').to_string())
        .collect()
}

/// The string literals of `export type ErrorCode = | 'a' | 'b' …` in lib/index.d.ts.
fn typings_codes() -> BTreeSet<String> {
    let typings = std::fs::read_to_string(root().join("lib/index.d.ts")).unwrap();
    let union = typings.split("export type ErrorCode =").nth(1).expect("lib/index.d.ts declares ErrorCode");
    let union = &union[..union.find("\n\n").unwrap_or(union.len())];
    union.split('\'').skip(1).step_by(2).map(str::to_string).collect()
}

#[test]
fn error_codes_agree_across_core_readme_and_typings() {
    assert_eq!(readme_codes(), all_codes(), "docs/errors.md's error-code table");
    assert_eq!(typings_codes(), all_codes(), "lib/index.d.ts's ErrorCode union");
}

/// A module's path within its crate: `["engine", "merge", "land"]` for `engine/merge/land.rs`,
/// `["engine", "merge"]` for `engine/merge/mod.rs`, `[]` for `lib.rs`/`main.rs`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut path: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if matches!(path.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        path.pop();
    }
    path
}

/// A file's code: no comments, no `#[cfg(test)] mod tests` (tests may use anything).
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every module path a file's code names (`crate::a::b`, `super::x`, `self::y`, and each name of
/// `super::{a, b}`), resolved against the file's own module path.
fn references(code: &str, at: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for root in ["crate::", "super::", "self::"] {
        for (i, _) in code.match_indices(root) {
            if i > 0 && (is_ident(bytes[i - 1] as char) || bytes[i - 1] == b':') {
                continue;
            }
            // The `a::b::c` chain, then an optional `{x, y}` group.
            let mut parts: Vec<String> = vec![root.trim_end_matches(':').to_string()];
            let mut rest = &code[i + root.len()..];
            let mut group = Vec::new();
            loop {
                if let Some(inner) = rest.strip_prefix('{') {
                    let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                    group = inner
                        .split(',')
                        .map(|n| {
                            n.trim().split("::").next().unwrap_or_default().split(" as ").next().unwrap_or_default()
                        })
                        .filter(|n| !n.is_empty() && *n != "self")
                        .map(str::to_string)
                        .collect();
                    break;
                }
                let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
                if name.is_empty() {
                    break;
                }
                rest = &rest[name.len()..];
                parts.push(name);
                match rest.strip_prefix("::") {
                    Some(after) => rest = after,
                    None => break,
                }
            }
            let resolve = |parts: &[String]| -> Vec<String> {
                if parts[0] == "crate" {
                    return parts[1..].to_vec();
                }
                let mut base = at.to_vec();
                let mut i = 0;
                while i < parts.len() && (parts[i] == "super" || parts[i] == "self") {
                    if parts[i] == "super" {
                        base.pop();
                    }
                    i += 1;
                }
                base.extend_from_slice(&parts[i..]);
                base
            };
            if group.is_empty() {
                out.push(resolve(&parts));
            } else {
                for name in group {
                    let mut with = parts.clone();
                    with.push(name);
                    out.push(resolve(&with));
                }
            }
        }
    }
    out
}

/// For every folder of a crate (its root included), which of its child modules name which:
/// `folder → child → children it imports`. A name a folder's `mod.rs` (or `lib.rs`) re-exports
/// counts as the child it comes from.
fn module_graphs(src: &Path) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                walk(&entry.path(), out);
            } else if entry.path().extension().is_some_and(|e| e == "rs") {
                out.push(entry.path());
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut children: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    let mut exports: BTreeMap<Vec<String>, BTreeMap<String, String>> = BTreeMap::new();
    for file in &files {
        let path = module_path(src, file);
        if let Some((last, folder)) = path.split_last() {
            children.entry(folder.to_vec()).or_default().insert(last.clone());
        }
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "mod.rs" || name == "lib.rs" {
            let code = code_of(file);
            for statement in code.split(';') {
                let statement = statement.trim();
                let Some(rest) =
                    ["pub use ", "pub(crate) use ", "pub(super) use "].iter().find_map(|p| statement.strip_prefix(p))
                else {
                    continue;
                };
                let Some((child, names)) = rest.split_once("::") else { continue };
                for name in names.trim_matches(|c: char| c == '{' || c == '}' || c.is_whitespace()).split(',') {
                    let name = name.trim().rsplit(" as ").next().unwrap_or_default().trim();
                    if !name.is_empty() {
                        exports.entry(path.clone()).or_default().insert(name.to_string(), child.trim().to_string());
                    }
                }
            }
        }
    }
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        let from = module_path(src, file);
        for to in references(&code_of(file), &from) {
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common >= from.len() || common >= to.len() {
                continue;
            }
            let folder = from[..common].to_vec();
            let (a, named) = (&from[common], &to[common]);
            let b = if children.get(&folder).is_some_and(|c| c.contains(named)) {
                named.clone()
            } else if let Some(child) = exports.get(&folder).and_then(|e| e.get(named)) {
                child.clone()
            } else {
                continue;
            };
            if *a != b {
                graphs.entry(folder).or_default().entry(a.clone()).or_default().insert(b);
            }
        }
    }
    graphs
}

#[test]
fn modules_import_one_another_one_way_only() {
    for crate_src in ["core/src", "cli/src", "bindings-python/src", "bindings-node/src"] {
        for (folder, graph) in module_graphs(&root().join(crate_src)) {
            let place =
                if folder.is_empty() { crate_src.to_string() } else { format!("{crate_src}/{}", folder.join("/")) };
            assert_acyclic(&place, &graph);
        }
    }
}

#[test]
fn the_import_check_sees_a_planted_circle() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    std::fs::create_dir_all(src.join("room")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod room;\n").unwrap();
    std::fs::write(src.join("room/mod.rs"), "mod a;\nmod b;\npub use a::Alpha;\n").unwrap();
    std::fs::write(src.join("room/a.rs"), "use super::b::Beta;\npub struct Alpha;\n").unwrap();
    std::fs::write(src.join("room/b.rs"), "pub struct Beta(crate::room::Alpha);\n").unwrap();
    let graphs = module_graphs(src);
    let room = &graphs[&vec!["room".to_string()]];
    assert_eq!(room["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(room["b"], BTreeSet::from(["a".to_string()]), "a re-export counts as its module");
    let found = std::panic::catch_unwind(|| assert_acyclic("planted", room));
    assert!(found.is_err(), "the circle a -> b -> a is found");
}

fn assert_acyclic(crate_src: &str, graph: &BTreeMap<String, BTreeSet<String>>) {
    // Depth-first search for a cycle, printing its path.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut Vec::new(), &mut done) {
            panic!("import circle among the modules of {crate_src}: {}\nthe graph: {graph:#?}", cycle.join(" -> "));
        }
    }
}

/// ARCHITECTURE.md's code map names every module of `core/src`: a module added without a line
/// there (what it owns, what it may import) fails here.
#[test]
fn every_module_is_in_the_architecture_map() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let table = map.split("## Code map").nth(1).expect("ARCHITECTURE.md has a code map").split("\n## ").next().unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root().join("core/src")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().trim_end_matches(".rs").to_string();
        if name == "lib" {
            continue;
        }
        if !table.contains(&format!("| `{name}` |")) {
            missing.push(name);
        }
    }
    missing.sort();
    assert!(missing.is_empty(), "modules missing from ARCHITECTURE.md's code map: {missing:?}");
}

/// The folders' `mod.rs` hold docs, `mod` lines and re-exports only: the code is in files named
/// for what they hold.
#[test]
fn mod_files_hold_only_docs_mods_and_reexports() {
    let mut offenders = Vec::new();
    for folder in ["engine", "state", "agents", "config", "feature", "executor", "worktree"] {
        let path = root().join("core/src").join(folder).join("mod.rs");
        let code = code_of(&path);
        for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let statement = statement.trim_start_matches("#[cfg(test)]").trim();
            let allowed = ["mod ", "pub mod ", "pub(crate) mod ", "pub use ", "pub(crate) use ", "pub(super) use "];
            if !allowed.iter().any(|p| statement.starts_with(p)) {
                offenders.push(format!("core/src/{folder}/mod.rs: `{}`", statement.lines().next().unwrap_or_default()));
            }
        }
    }
    assert!(offenders.is_empty(), "code in a mod.rs (move it to a file named for it):\n{}", offenders.join("\n"));
}
