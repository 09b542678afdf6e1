//! The data shapes that cross into Python and Node agree with the Rust types they come from.
//!
//! Every value the bindings hand out is a Rust value serialized by serde; Python wraps it in the
//! dataclasses of `python/kitty_orchestrator/_types.py`, Node types it with the interfaces of
//! `lib/index.d.ts` (keys in camelCase). Both are written by hand, so this test reads all three
//! — the Rust items with `syn`, honouring serde's `rename`, `rename_all`, `skip` and `flatten`;
//! the dataclasses' fields; the interfaces' and unions' members — and requires, for every shape
//! in [`SHAPES`] and every variant of the tagged event enums, the same set of field names. A
//! dataclass or interface that is in neither list fails too: a new shape must be added here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A shape that crosses the boundary: (Rust file under core/src, Rust type, Python class, Node
/// interface). `None`: that surface does not have it as a named type.
const SHAPES: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("state/model.rs", "Owner", Some("Owner"), Some("Owner")),
    ("state/model.rs", "WpState", Some("WpState"), Some("WpState")),
    ("state/model.rs", "RunState", Some("RunState"), Some("RunState")),
    ("state/model.rs", "MergeRecord", None, Some("MergeRecord")),
    ("state/store.rs", "CorruptState", Some("CorruptState"), Some("CorruptState")),
    ("state/store.rs", "HistoryEntry", Some("HistoryEntry"), Some("HistoryEntry")),
    ("engine/orchestrator.rs", "FeatureStatus", Some("FeatureStatus"), Some("Status")),
    ("agents/confinement.rs", "AgentSandbox", Some("AgentSandbox"), Some("AgentSandbox")),
    ("agents/detect.rs", "DetectedAgent", Some("DetectedAgent"), Some("DetectedAgent")),
    ("agents/detect.rs", "DriverProof", Some("DriverProof"), Some("DriverProof")),
    ("engine/reports/run.rs", "WpSummary", Some("WpSummary"), Some("WpSummary")),
    ("engine/reports/run.rs", "RunSummary", Some("RunSummary"), Some("RunSummary")),
    ("engine/reports/merge.rs", "MergeReport", Some("MergeReport"), Some("MergeReport")),
    ("land/types.rs", "Step", Some("MergeStep"), Some("MergeStep")),
    ("land/types.rs", "Conflict", None, Some("Conflict")),
    ("land/types.rs", "VerifyRound", None, Some("VerifyRound")),
    ("engine/remote_commands.rs", "RemoteHost", Some("RemoteHost"), Some("RemoteHost")),
    ("engine/remote_commands.rs", "RemoteStatus", Some("RemoteStatus"), Some("RemoteStatus")),
    ("engine/remote_commands.rs", "RemoteAbort", Some("RemoteAbort"), Some("RemoteAbort")),
    ("remote/push.rs", "PushReport", Some("PushReport"), Some("PushReport")),
    ("forge/host.rs", "PrReport", Some("PullRequestReport"), Some("PrReport")),
    ("forge/host.rs", "PullRequest", Some("PullRequest"), None),
    ("report/model.rs", "FeatureReport", Some("FeatureReport"), Some("FeatureReport")),
    ("report/graph.rs", "FeatureGraph", Some("FeatureGraph"), Some("FeatureGraph")),
    ("report/graph.rs", "GraphNode", Some("GraphNode"), Some("GraphNode")),
    ("report/graph.rs", "GraphEdge", Some("GraphEdge"), Some("GraphEdge")),
    ("report/graph.rs", "LaneCount", Some("LaneCount"), Some("LaneCount")),
    ("workspace/clone.rs", "Cloned", Some("ClonedWorkspace"), Some("ClonedWorkspace")),
    ("workspace/list.rs", "WorkspaceFeature", Some("WorkspaceFeature"), Some("WorkspaceFeature")),
    ("workspace/list.rs", "Workspace", Some("Workspace"), Some("Workspace")),
    ("workspace/remove.rs", "Removed", Some("RemovedWorkspace"), Some("RemovedWorkspace")),
    ("executor/activity.rs", "PlanStep", Some("PlanStep"), Some("PlanStep")),
];

/// Tagged enums whose variants cross: (file, enum, Python base class, Node union).
const EVENT_ENUMS: &[(&str, &str, &str, &str)] = &[
    ("state/model.rs", "WpEvent", "WpEvent", "WpEvent"),
    ("engine/events.rs", "Event", "Event", "Event"),
    ("executor/activity.rs", "Activity", "Activity", "Activity"),
];

/// Node interfaces that are inputs the binding reads (options), not Rust values it hands out.
const NODE_INPUTS: &[&str] = &["RunOptions", "MergeOptions", "PushOptions", "PrOptions", "LoadOptions", "WatchOptions"];

// ---- Rust, through syn -------------------------------------------------------------------------

/// The serde attributes of one item or field that change its serialized names.
#[derive(Default)]
struct Serde {
    rename: Option<String>,
    rename_all: Option<String>,
    tag: Option<String>,
    skip: bool,
    flatten: bool,
}

fn serde_of(attrs: &[syn::Attribute]) -> Serde {
    let mut out = Serde::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            let value = || -> syn::Result<String> { Ok(meta.value()?.parse::<syn::LitStr>()?.value()) };
            match name.as_str() {
                "rename" => out.rename = Some(value()?),
                "rename_all" => out.rename_all = Some(value()?),
                "tag" => out.tag = Some(value()?),
                "skip" | "skip_serializing" => out.skip = true,
                "flatten" => out.flatten = true,
                _ => {
                    // `default`, `skip_serializing_if = "…"`, `content = "…"`, …: consume a value.
                    if meta.input.peek(syn::Token![=]) {
                        let _: syn::Expr = meta.value()?.parse()?;
                    }
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("a #[serde] attribute this test cannot read: {e}"));
    }
    out
}

fn renamed(name: &str, rule: Option<&str>) -> String {
    match rule {
        Some("camelCase") => {
            let mut parts = name.split('_');
            let first = parts.next().unwrap_or_default().to_string();
            first + &parts.map(|p| p[..1].to_uppercase() + &p[1..]).collect::<String>()
        }
        Some("kebab-case") => name.replace('_', "-"),
        Some("snake_case") | None => name.to_string(),
        Some(other) => panic!("rename_all = {other:?}: teach this test that rule"),
    }
}

/// `FooBar` → `foo_bar` (a variant name under `rename_all = "snake_case"`).
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

struct Rust {
    /// Parsed files, by path under core/src.
    files: BTreeMap<String, syn::File>,
}

impl Rust {
    fn load() -> Rust {
        fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, syn::File>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    out.insert(path.strip_prefix(base).unwrap().display().to_string(), file);
                }
            }
        }
        let base = root().join("core/src");
        let mut files = BTreeMap::new();
        walk(&base, &base, &mut files);
        Rust { files }
    }

    fn item(&self, file: &str, name: &str) -> &syn::Item {
        let parsed = self.files.get(file).unwrap_or_else(|| panic!("core/src/{file} is gone: update SHAPES"));
        parsed
            .items
            .iter()
            .find(|item| match item {
                syn::Item::Struct(s) => s.ident == name,
                syn::Item::Enum(e) => e.ident == name,
                _ => false,
            })
            .unwrap_or_else(|| panic!("core/src/{file} has no `{name}`: update SHAPES"))
    }

    fn struct_in<'a>(&'a self, file: &str, name: &str) -> Option<&'a syn::ItemStruct> {
        self.files.get(file)?.items.iter().find_map(|item| match item {
            syn::Item::Struct(s) if s.ident == name => Some(s),
            _ => None,
        })
    }

    /// A struct found by name anywhere (for `#[serde(flatten)]`), preferring `near`'s file.
    fn struct_named<'a>(&'a self, name: &str, near: &'a str) -> Option<(&'a str, &'a syn::ItemStruct)> {
        if let Some(s) = self.struct_in(near, name) {
            return Some((near, s));
        }
        self.files.keys().find_map(|f| self.struct_in(f, name).map(|s| (f.as_str(), s)))
    }

    /// An enum found by name anywhere, preferring `near`'s file.
    fn enum_named<'a>(&'a self, name: &str, near: &'a str) -> (&'a str, &'a syn::ItemEnum) {
        let enum_in = |file: &str| {
            self.files.get(file)?.items.iter().find_map(|item| match item {
                syn::Item::Enum(e) if e.ident == name => Some(e),
                _ => None,
            })
        };
        if let Some(e) = enum_in(near) {
            return (near, e);
        }
        self.files
            .keys()
            .find_map(|f| enum_in(f).map(|e| (f.as_str(), e)))
            .unwrap_or_else(|| panic!("no struct or enum {name} in core/src"))
    }

    fn fields(&self, file: &str, fields: &syn::Fields, rule: Option<&str>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for field in fields {
            let serde = serde_of(&field.attrs);
            if serde.skip {
                continue;
            }
            if serde.flatten {
                let ty = last_type_name(&field.ty);
                match self.struct_named(&ty, file) {
                    Some((inner_file, inner)) => {
                        let inner_rule = serde_of(&inner.attrs).rename_all;
                        out.extend(self.fields(inner_file, &inner.fields, inner_rule.as_deref()));
                    }
                    // A flattened tagged enum: its tag, and every variant's fields (each optional).
                    None => {
                        let (inner_file, _) = self.enum_named(&ty, file);
                        out.extend(self.variants(inner_file, &ty).into_values().flatten());
                    }
                }
                continue;
            }
            let ident = field.ident.as_ref().expect("named fields").to_string();
            out.insert(serde.rename.unwrap_or_else(|| renamed(ident.trim_start_matches("r#"), rule)));
        }
        out
    }

    fn struct_fields(&self, file: &str, name: &str) -> BTreeSet<String> {
        match self.item(file, name) {
            syn::Item::Struct(s) => self.fields(file, &s.fields, serde_of(&s.attrs).rename_all.as_deref()),
            _ => panic!("{name} is not a struct"),
        }
    }

    /// Each variant of a tagged enum: its tag value → its fields (the tag included).
    fn variants(&self, file: &str, name: &str) -> BTreeMap<String, BTreeSet<String>> {
        let syn::Item::Enum(e) = self.item(file, name) else { panic!("{name} is not an enum") };
        let container = serde_of(&e.attrs);
        let tag = container.tag.expect("a tagged enum");
        e.variants
            .iter()
            .map(|v| {
                let serde = serde_of(&v.attrs);
                let value = serde.rename.unwrap_or_else(|| match container.rename_all.as_deref() {
                    Some("snake_case") => snake(&v.ident.to_string()),
                    None => v.ident.to_string(),
                    Some(other) => panic!("variant rename_all = {other:?}: teach this test that rule"),
                });
                let mut fields = self.fields(file, &v.fields, None);
                fields.insert(tag.clone());
                (value, fields)
            })
            .collect()
    }
}

fn last_type_name(ty: &syn::Type) -> String {
    let syn::Type::Path(path) = ty else { panic!("a flattened field of an unexpected type") };
    let last = path.path.segments.last().unwrap();
    if last.ident == "Option"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
    {
        return last_type_name(inner);
    }
    last.ident.to_string()
}

// ---- Python dataclasses ------------------------------------------------------------------------

struct PyClass {
    base: String,
    fields: Vec<String>,
    /// `type: ClassVar[str] = "…"`: the event tag it stands for.
    tag: Option<String>,
}

fn python_classes(text: &str) -> BTreeMap<String, PyClass> {
    let mut classes = BTreeMap::new();
    let mut current: Option<(String, PyClass)> = None;
    let mut in_docstring = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            classes.extend(current.take());
            if let Some(rest) = line.strip_prefix("class ") {
                let (name, base) = rest.split_once('(').unwrap_or((rest.trim_end_matches(':'), ""));
                let base = base.split([')', ',']).next().unwrap_or_default().to_string();
                current = Some((name.to_string(), PyClass { base, fields: Vec::new(), tag: None }));
            }
            continue;
        }
        let Some((_, class)) = current.as_mut() else { continue };
        let Some(body) = line.strip_prefix("    ").filter(|b| !b.starts_with(' ')) else { continue };
        let quotes = body.matches("\"\"\"").count();
        if in_docstring || quotes > 0 {
            in_docstring ^= quotes % 2 == 1;
            continue;
        }
        if let Some(tag) = body.strip_prefix("type: ClassVar[str] = ") {
            class.tag = Some(tag.trim_matches('"').to_string());
            continue;
        }
        if let Some((name, _)) = body.split_once(':')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            class.fields.push(name.to_string());
        }
    }
    classes.extend(current);
    classes
}

/// A class's fields with those of its bases (not `data`, the raw dict every class keeps).
/// Python keywords a serialized field may be named after.
const PYTHON_KEYWORDS: [&str; 6] = ["class", "from", "import", "in", "is", "def"];

fn python_fields(classes: &BTreeMap<String, PyClass>, name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut at = Some(name);
    while let Some(n) = at {
        let Some(class) = classes.get(n) else { break };
        // A field named after a Python keyword carries PEP 8's trailing underscore (`class_`).
        let unescaped = |f: &String| match f.strip_suffix('_') {
            Some(k) if PYTHON_KEYWORDS.contains(&k) => k.to_string(),
            _ => f.clone(),
        };
        out.extend(class.fields.iter().filter(|f| *f != "data").map(unescaped));
        at = Some(class.base.as_str()).filter(|b| !b.is_empty());
    }
    out
}

// ---- Node typings ------------------------------------------------------------------------------

/// The typings without comments.
fn typings(text: &str) -> String {
    // Comments out: `/** … */` blocks and `// …` lines.
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..].split_once("*/").map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The member names of an object type's body (between its braces), nested types skipped.
fn members(body: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut depth = 0;
    let mut entry = String::new();
    let mut take = |entry: &mut String| {
        if let Some((key, _)) = entry.split_once(':') {
            let key = key.trim().trim_end_matches('?');
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.insert(key.to_string());
            }
        }
        entry.clear();
    };
    let mut previous = ' ';
    for c in body.chars() {
        match c {
            '{' | '(' | '<' | '[' => depth += 1,
            // `=>` of a function type closes nothing.
            '>' if previous == '=' => {}
            '}' | ')' | '>' | ']' => depth -= 1,
            ';' | '\n' if depth == 0 => {
                take(&mut entry);
                continue;
            }
            _ => {}
        }
        previous = c;
        entry.push(c);
    }
    take(&mut entry);
    out
}

/// The text between the brace at `open` and its match.
fn braced(text: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in lib/index.d.ts")
}

fn interfaces(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (at, _) in text.match_indices("export interface ") {
        let head = &text[at + "export interface ".len()..];
        let name: String = head.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let open = at + text[at..].find('{').unwrap();
        out.insert(name, members(braced(text, open)).into_iter().map(|m| snake(&m)).collect());
    }
    out
}

/// The members of `export type <name> = | { type: '…'; … } | …`: tag → fields.
fn union(text: &str, name: &str) -> BTreeMap<String, BTreeSet<String>> {
    let start = text.find(&format!("export type {name} =")).unwrap_or_else(|| panic!("no union {name}"));
    let end = text[start + 1..].find("\nexport ").map_or(text.len(), |e| start + 1 + e);
    let mut out = BTreeMap::new();
    let mut at = start;
    while let Some(open) = text[at..end].find('{').map(|o| at + o) {
        let body = braced(text, open);
        let fields: BTreeSet<String> = members(body).into_iter().map(|m| snake(&m)).collect();
        let tag = body.split("type:").nth(1).and_then(|t| t.split('\'').nth(1)).expect("a tagged member").to_string();
        out.insert(tag, fields);
        at = open + body.len() + 2;
    }
    out
}

// ---- the agreement -----------------------------------------------------------------------------

fn differ(what: &str, rust: &BTreeSet<String>, other: &BTreeSet<String>) -> Option<String> {
    let missing: Vec<_> = rust.difference(other).collect();
    let extra: Vec<_> = other.difference(rust).collect();
    (!missing.is_empty() || !extra.is_empty())
        .then(|| format!("{what}: lacks {missing:?}, has fields Rust does not serialize {extra:?}"))
}

#[test]
fn every_shape_handed_to_python_and_node_has_the_rust_types_fields() {
    let problems = disagreements(&Rust::load(), &read("python/kitty_orchestrator/_types.py"), &read("lib/index.d.ts"));
    assert!(problems.is_empty(), "the bindings' shapes disagree with Rust:\n{}", problems.join("\n"));
}

/// A field planted in or taken out of either binding's shapes is caught, and named.
#[test]
fn a_planted_difference_is_caught() {
    let rust = Rust::load();
    let (py, ts) = (read("python/kitty_orchestrator/_types.py"), read("lib/index.d.ts"));
    let py_without = py.replacen("    event_id: str\n    \"\"\"The id of the latest event.\"\"\"\n", "", 1);
    assert_ne!(py_without, py, "the planted removal applies");
    let problems = disagreements(&rust, &py_without, &ts);
    assert!(problems.iter().any(|p| p.contains("Python RunState") && p.contains("event_id")), "{problems:?}");
    let ts_with = ts.replacen("export interface RunState {\n", "export interface RunState {\n  planted: string\n", 1);
    let problems = disagreements(&rust, &py, &ts_with);
    assert!(problems.iter().any(|p| p.contains("Node RunState") && p.contains("planted")), "{problems:?}");
    let ts_union = ts.replacen("| { type: 'claimed'; owner: Owner }", "| { type: 'claimed' }", 1);
    assert_ne!(ts_union, ts, "the planted union change applies");
    let problems = disagreements(&rust, &py, &ts_union);
    assert!(problems.iter().any(|p| p.contains("`claimed`") && p.contains("owner")), "{problems:?}");
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every difference between the Rust shapes and the Python (`_types.py`) and Node
/// (`index.d.ts`) texts given.
fn disagreements(rust: &Rust, py_text: &str, ts_text: &str) -> Vec<String> {
    let py = python_classes(py_text);
    let ts_text = typings(ts_text);
    let ts = interfaces(&ts_text);
    let mut problems = Vec::new();
    for (file, name, py_name, ts_name) in SHAPES {
        let fields = rust.struct_fields(file, name);
        if let Some(py_name) = py_name {
            assert!(py.contains_key(*py_name), "_types.py has no class {py_name}");
            problems.extend(differ(&format!("Python {py_name} (Rust {name})"), &fields, &python_fields(&py, py_name)));
        }
        if let Some(ts_name) = ts_name {
            let members = ts.get(*ts_name).unwrap_or_else(|| panic!("lib/index.d.ts has no interface {ts_name}"));
            problems.extend(differ(&format!("Node {ts_name} (Rust {name})"), &fields, members));
        }
    }
    for (file, name, py_base, ts_union) in EVENT_ENUMS {
        let variants = rust.variants(file, name);
        let node = union(&ts_text, ts_union);
        let python: BTreeMap<String, BTreeSet<String>> = py
            .iter()
            .filter(|(_, class)| class.base == *py_base)
            .filter_map(|(class_name, class)| {
                let mut fields = python_fields(&py, class_name);
                fields.insert("type".into());
                class.tag.clone().map(|tag| (tag, fields))
            })
            .collect();
        for (tag, fields) in &variants {
            match python.get(tag) {
                Some(p) => problems.extend(differ(&format!("Python {py_base} `{tag}`"), fields, p)),
                None => problems.push(format!("Python has no {py_base} subclass for `{tag}`")),
            }
            match node.get(tag) {
                Some(n) => problems.extend(differ(&format!("Node {ts_union} `{tag}`"), fields, n)),
                None => problems.push(format!("Node's {ts_union} union has no `{tag}` member")),
            }
        }
        for tag in python.keys().chain(node.keys()).filter(|t| !variants.contains_key(*t)) {
            problems.push(format!("`{tag}` is in a binding's {name} but not in Rust's"));
        }
    }
    // Every named shape of the bindings is accounted for.
    let listed_py: BTreeSet<&str> = SHAPES.iter().filter_map(|s| s.2).collect();
    let event_bases: BTreeSet<&str> = EVENT_ENUMS.iter().map(|e| e.2).collect();
    for (name, class) in &py {
        let accounted = listed_py.contains(name.as_str())
            || event_bases.contains(name.as_str())
            || event_bases.contains(class.base.as_str())
            || name.starts_with('_')
            || !class.base.contains("_Typed");
        if !accounted {
            problems.push(format!("_types.py's {name} is not in this test's SHAPES"));
        }
    }
    let listed_ts: BTreeSet<&str> = SHAPES.iter().filter_map(|s| s.3).collect();
    for name in ts.keys().filter(|n| !listed_ts.contains(n.as_str()) && !NODE_INPUTS.contains(&n.as_str())) {
        problems.push(format!("lib/index.d.ts's interface {name} is not in this test's SHAPES or NODE_INPUTS"));
    }
    problems
}
