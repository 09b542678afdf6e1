//! Names and messages from the configuration: `branch_template` for WP branches (default
//! `{feature}-{wp}`) and `commit_template` for the subjects of commits we write (auto-commits,
//! merges, squashes). Both are checked when the configuration is loaded: an unknown placeholder,
//! or a branch template that can produce an invalid ref name (or the same branch for two WPs),
//! is an error naming the key.

use serde::{Serialize, Serializer};

use crate::ids::BranchName;

/// The values a template is rendered with.
#[derive(Debug, Clone, Default)]
pub struct Fields<'a> {
    /// The feature slug.
    pub feature: &'a str,
    /// The WP id (`WP03`).
    pub wp: &'a str,
    /// The WP's title.
    pub title: &'a str,
    /// What the commit does (the title for work, `merge <title>` for a merge commit).
    pub description: &'a str,
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

const BRANCH_FIELDS: [&str; 4] = ["feature", "wp", "title", "number"];
const COMMIT_FIELDS: [&str; 6] = ["feature", "wp", "title", "number", "scope", "description"];

fn parse(text: &str, allowed: &[&'static str]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if rest[..open].contains('}') {
            return Err("a `}` without its `{`".into());
        }
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let close = rest[open..].find('}').ok_or_else(|| format!("`{{` at {open} is never closed"))? + open;
        let name = &rest[open + 1..close];
        let field = allowed.iter().find(|f| **f == name).ok_or_else(|| {
            format!(
                "unknown placeholder `{{{name}}}`: use {}",
                allowed.iter().map(|f| format!("{{{f}}}")).collect::<Vec<_>>().join(", ")
            )
        })?;
        pieces.push(Piece::Field(field));
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` without its `{`".into());
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// A title as a branch-name piece: lowercase ASCII letters and digits, `-` between words, at most
/// 40 characters (`Add the login page!` → `add-the-login-page`).
pub fn slugify(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "wp".to_string() } else { out }
}

fn number(wp: &str) -> &str {
    wp.trim_start_matches(|c: char| c.is_ascii_alphabetic())
}

fn render(pieces: &[Piece], fields: &Fields<'_>, branch: bool) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Field("feature") => out.push_str(fields.feature),
            Piece::Field("wp") | Piece::Field("scope") => out.push_str(fields.wp),
            Piece::Field("number") => out.push_str(number(fields.wp)),
            Piece::Field("title") if branch => out.push_str(&slugify(fields.title)),
            Piece::Field("title") => out.push_str(fields.title),
            Piece::Field(_) => out.push_str(fields.description),
        }
    }
    out
}

/// `branch_template`: the branch of each WP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchTemplate {
    text: String,
    pieces: Vec<Piece>,
}

impl Default for BranchTemplate {
    fn default() -> Self {
        BranchTemplate::parse("{feature}-{wp}").expect("the default branch template is valid")
    }
}

impl BranchTemplate {
    /// Parses and checks a template: known placeholders only, `{wp}` or `{number}` in it (two
    /// WPs must never share a branch), and every name it can make a valid branch name.
    pub fn parse(text: &str) -> Result<BranchTemplate, String> {
        let pieces = parse(text, &BRANCH_FIELDS)?;
        if !pieces.iter().any(|p| matches!(p, Piece::Field("wp") | Piece::Field("number"))) {
            return Err("it must contain {wp} or {number}, or every WP would get the same branch".into());
        }
        let template = BranchTemplate { text: text.to_string(), pieces };
        // Placeholders render to ref-safe text (slugs, ids, digits): the literal parts decide.
        let sample = template.render(&Fields { feature: "001-feature", wp: "WP01", title: "Title", description: "" });
        if let Err(why) = BranchName::parse(&sample) {
            return Err(format!("it makes branch names like this one, which cannot be: {why}"));
        }
        Ok(template)
    }

    /// The branch of one WP.
    pub fn render(&self, fields: &Fields<'_>) -> String {
        render(&self.pieces, fields, true)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `commit_template`: the subject of the commits we write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitTemplate {
    text: String,
    pieces: Vec<Piece>,
}

impl CommitTemplate {
    /// Parses and checks a template: known placeholders, one line, not empty.
    pub fn parse(text: &str) -> Result<CommitTemplate, String> {
        if text.trim().is_empty() {
            return Err("it is empty".into());
        }
        if text.chars().any(|c| c.is_control()) {
            return Err("it must be one line, without control characters".into());
        }
        Ok(CommitTemplate { text: text.to_string(), pieces: parse(text, &COMMIT_FIELDS)? })
    }

    /// The subject of one commit.
    pub fn render(&self, fields: &Fields<'_>) -> String {
        render(&self.pieces, fields, false)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Serialize for BranchTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl Serialize for CommitTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(wp: &'a str, title: &'a str) -> Fields<'a> {
        Fields { feature: "020-orchestrator", wp, title, description: title }
    }

    #[test]
    fn branch_templates_render_and_bad_ones_are_refused() {
        let t = BranchTemplate::default();
        assert_eq!(t.render(&fields("WP03", "x")), "020-orchestrator-WP03");
        let t = BranchTemplate::parse("kiro/{feature}/{number}-{title}").unwrap();
        assert_eq!(t.render(&fields("WP03", "Add the login page!")), "kiro/020-orchestrator/03-add-the-login-page");
        for bad in [
            "{feature}",
            "{wp}..x",
            "{wp}.lock",
            "{branch}-{wp}",
            "{wp",
            "x}{wp}",
            "/{wp}",
            "{wp}/",
            "a//{wp}",
            "{wp} x",
        ] {
            assert!(BranchTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commit_templates_render_like_the_kiro_seed() {
        let t = CommitTemplate::parse("spirit({scope}): {description}").unwrap();
        assert_eq!(t.render(&fields("WP03", "Add login")), "spirit(WP03): Add login");
        assert!(CommitTemplate::parse("{wp}\n{title}").is_err());
        assert!(CommitTemplate::parse("{unknown}").is_err());
        assert!(CommitTemplate::parse("  ").is_err());
    }

    #[test]
    fn titles_become_branch_safe() {
        assert_eq!(slugify("  Ünïcode & spaces -- here  "), "n-code-spaces-here");
        assert_eq!(slugify("!!!"), "wp");
        assert!(slugify(&"long ".repeat(40)).len() <= 40);
    }
}
