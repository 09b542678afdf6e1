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
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
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
    assert_eq!(readme_codes(), all_codes(), "README.md's error-code table");
    assert_eq!(typings_codes(), all_codes(), "lib/index.d.ts's ErrorCode union");
}

/// Names re-exported at the crate root (`pub use module::{A, b};` in lib.rs), by the module they
/// come from: `crate::Error` is a reference to `error`.
fn root_exports(src: &Path) -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for statement in lib.split(';') {
        let Some(rest) = statement.trim().strip_prefix("pub use ") else { continue };
        let Some((module, names)) = rest.split_once("::") else { continue };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            out.insert(name.trim().to_string(), module.trim().to_string());
        }
    }
    out
}

/// `crate::…` references of every file under `src/<module>…`, by top-level module.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                walk(&entry.path(), out);
            } else if entry.path().extension().is_some_and(|e| e == "rs") {
                out.push(entry.path());
            }
        }
    }
    let exports = root_exports(src);
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Only code: doc comments may name other modules freely.
        let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
        let code = code.join("\n");
        let deps = graph.entry(module.clone()).or_default();
        for part in code.split("crate::").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let target = exports.get(&name).cloned().unwrap_or(name);
            if !target.is_empty() && target != module {
                deps.insert(target);
            }
        }
    }
    graph
}

#[test]
fn modules_import_one_another_one_way_only() {
    for crate_src in ["core/src", "cli/src", "bindings-python/src", "bindings-node/src"] {
        assert_acyclic(crate_src, &module_graph(&root().join(crate_src)));
    }
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
