//! Reading one WP markdown file: the YAML frontmatter block and the prompt body after it.
//!
//! Real spec-kitty files mix quoting styles, flow and block lists, and odd values
//! (`shell_pid: manual`); only the keys we use are interpreted, the rest is kept as data.

use std::path::Path;

use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value as Yaml;

use super::problem::{Problem, ProblemKind};

/// The frontmatter of a WP file, split from its body. Line numbers are 1-based file lines.
pub(crate) struct Document<'a> {
    /// The YAML text between the `---` lines.
    pub yaml: &'a str,
    /// File line on which `yaml` starts (the line after the opening `---`).
    pub yaml_first_line: usize,
    /// Everything after the closing `---` line.
    pub body: &'a str,
}

/// Splits `text` into frontmatter and body. The file must start with a `---` line (an UTF-8 BOM
/// before it is tolerated) and the block ends at the next `---` (or `...`) line.
pub(crate) fn split<'a>(text: &'a str, path: &Path) -> Result<Document<'a>, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let missing = || {
        Problem::at_line(
            ProblemKind::MissingFrontmatter,
            path,
            Some(1),
            None,
            "no YAML frontmatter: a WP file must start with a `---` line, then `work_package_id: WPxx` and the other keys, then `---`",
        )
    };
    let first_end = text.find('\n').ok_or_else(missing)?;
    if text[..first_end].trim_end() != "---" {
        return Err(missing());
    }
    let yaml_start = first_end + 1;
    let mut offset = yaml_start;
    for line in text[yaml_start..].split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return Ok(Document {
                yaml: &text[yaml_start..offset],
                yaml_first_line: 2,
                body: &text[offset + line.len()..],
            });
        }
        offset += line.len();
    }
    Err(Problem::at_line(
        ProblemKind::MissingFrontmatter,
        path,
        Some(1),
        None,
        "the YAML frontmatter opened on line 1 is never closed: add a `---` line after it",
    ))
}

/// Parses the frontmatter YAML into a mapping; errors carry the file line and column.
pub(crate) fn parse_mapping(doc: &Document<'_>, path: &Path) -> Result<serde_yaml_ng::Mapping, Problem> {
    match serde_yaml_ng::from_str::<Yaml>(doc.yaml) {
        Ok(Yaml::Mapping(map)) => Ok(map),
        Ok(Yaml::Null) => Ok(serde_yaml_ng::Mapping::new()),
        Ok(_) => Err(Problem::at_line(
            ProblemKind::BadYaml,
            path,
            Some(doc.yaml_first_line),
            None,
            "the frontmatter is not a YAML mapping of `key: value` lines",
        )),
        Err(err) => {
            let (line, column) = match err.location() {
                Some(loc) => (Some(doc.yaml_first_line + loc.line().saturating_sub(1)), Some(loc.column())),
                None => (Some(doc.yaml_first_line), None),
            };
            // libyaml's message repeats the position; keep only the reason.
            let reason = err.to_string();
            let reason = reason.split(" at line ").next().unwrap_or(&reason).to_string();
            Err(Problem::at_line(
                ProblemKind::BadYaml,
                path,
                line,
                column,
                format!("invalid YAML in frontmatter: {reason}"),
            ))
        }
    }
}

/// The file line of a top-level `key:` in the frontmatter, for pointing errors at it.
pub(crate) fn key_line(doc: &Document<'_>, key: &str) -> Option<usize> {
    doc.yaml
        .lines()
        .position(|line| {
            line.strip_prefix(key).map(|rest| rest.trim_start().starts_with(':')).unwrap_or(false)
                || line
                    .strip_prefix(&format!("\"{key}\""))
                    .or_else(|| line.strip_prefix(&format!("'{key}'")))
                    .map(|rest| rest.trim_start().starts_with(':'))
                    .unwrap_or(false)
        })
        .map(|index| doc.yaml_first_line + index)
}

/// The file line on which `token` appears at or after the `key:` line (e.g. one dependency in a
/// block list), falling back to the key's own line.
pub(crate) fn value_line(doc: &Document<'_>, key: &str, token: &str) -> Option<usize> {
    let start = key_line(doc, key)?;
    let skip = start - doc.yaml_first_line;
    doc.yaml
        .lines()
        .enumerate()
        .skip(skip)
        .take_while(|(i, line)| *i == skip || line.starts_with([' ', '\t', '-']))
        .find(|(_, line)| line.contains(token))
        .map(|(i, _)| doc.yaml_first_line + i)
        .or(Some(start))
}

/// A YAML scalar as text (`WP01`, `"WP01"`, `3` → `"3"`); `None` for null, lists and maps.
pub(crate) fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Tagged(tagged) => scalar_text(&tagged.value),
        _ => None,
    }
}

/// A list-ish YAML value as strings: a sequence of scalars, a single scalar (one item, or several
/// separated by commas), or null/empty (no items). Returns `Err` with a description otherwise.
pub(crate) fn string_list(value: &Yaml) -> Result<Vec<String>, String> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Sequence(items) => items
            .iter()
            .map(|item| scalar_text(item).ok_or_else(|| format!("list item {} is not a plain value", describe(item))))
            .collect(),
        Yaml::Tagged(tagged) => string_list(&tagged.value),
        other => match scalar_text(other) {
            Some(text) => Ok(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()),
            None => Err(format!("expected a list, found {}", describe(other))),
        },
    }
}

fn describe(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// Converts YAML to JSON for keeping unknown keys as data. Non-string map keys become their text;
/// non-finite floats become strings (JSON has no NaN).
pub(crate) fn yaml_to_json(value: &Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Json::Number)
                    .unwrap_or_else(|| Json::String(n.to_string()))
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = scalar_text(k)
                    .unwrap_or_else(|| serde_yaml_ng::to_string(k).unwrap_or_default().trim().to_string());
                out.insert(key, yaml_to_json(v));
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => yaml_to_json(&tagged.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn splits_frontmatter_and_body() {
        let text = "---\nwork_package_id: WP01\ntitle: x\n---\n# Body\n";
        let doc = split(text, &PathBuf::from("WP01.md")).unwrap();
        assert_eq!(doc.yaml, "work_package_id: WP01\ntitle: x\n");
        assert_eq!(doc.body, "# Body\n");
        assert_eq!(key_line(&doc, "title"), Some(3));
    }

    #[test]
    fn unclosed_and_missing_frontmatter_are_errors() {
        let p = PathBuf::from("WP01.md");
        assert_eq!(split("# no frontmatter\n", &p).err().unwrap().kind, ProblemKind::MissingFrontmatter);
        assert!(split("---\nkey: v\n", &p).err().unwrap().message.contains("never closed"));
    }

    #[test]
    fn yaml_errors_point_at_the_file_line() {
        let text = "---\nwork_package_id: WP01\ntitle: [unclosed\n---\n";
        let p = PathBuf::from("WP01.md");
        let doc = split(text, &p).unwrap();
        let problem = parse_mapping(&doc, &p).err().unwrap();
        assert_eq!(problem.kind, ProblemKind::BadYaml);
        let line = problem.line.unwrap();
        assert!((3..=4).contains(&line), "line {line}: {problem}");
    }

    #[test]
    fn lists_in_every_style() {
        let flow: Yaml = serde_yaml_ng::from_str("[WP01, \"WP02\"]").unwrap();
        assert_eq!(string_list(&flow).unwrap(), ["WP01", "WP02"]);
        let scalar: Yaml = serde_yaml_ng::from_str("WP01, WP02").unwrap();
        assert_eq!(string_list(&scalar).unwrap(), ["WP01", "WP02"]);
        assert!(string_list(&Yaml::Null).unwrap().is_empty());
        let map: Yaml = serde_yaml_ng::from_str("{a: 1}").unwrap();
        assert!(string_list(&map).is_err());
    }
}
