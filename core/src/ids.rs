//! Identifiers that end up in git ref names and file paths: work-package ids and feature slugs.
//!
//! Both are validated once, at the edge, so that every later `format!("refs/kitty/wp/{slug}/{id}")`
//! or `worktree_dir.join(format!("{slug}-{id}"))` is safe by construction.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Ids of the built-in agent profiles, in default preference order (the profiles themselves are
/// in [`crate::agents`]; the configuration checks agent ids against this list).
pub const BUILTIN_AGENT_IDS: [&str; 11] = [
    "claude-code",
    "codex",
    "gemini",
    "copilot",
    "qwen",
    "opencode",
    "cursor",
    "kilocode",
    "augment",
    "aider",
    "openai-api",
];

/// The built-in agents that can be driven over the Agent Client Protocol (`driver = "acp"`):
/// those whose profile has an ACP launch (checked against the profiles by a test).
pub const BUILTIN_ACP_AGENT_IDS: [&str; 8] =
    ["claude-code", "codex", "gemini", "copilot", "qwen", "opencode", "kilocode", "augment"];

/// The built-in agent that talks to an OpenAI-compatible chat-completions endpoint in process.
pub const OPENAI_API: &str = "openai-api";

/// Whether `id` names a built-in agent profile.
pub fn is_builtin(id: &str) -> bool {
    BUILTIN_AGENT_IDS.contains(&id)
}

/// A work-package id such as `WP03`: `WP` followed by 2 to 4 ASCII digits.
///
/// Ordered by number first (`WP99` < `WP100`), so "ties by WP id" mean what a person expects.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WpId(String);

impl WpId {
    /// Parses `WP\d{2,4}`; the error says what was wrong with the text.
    pub fn parse(text: &str) -> Result<WpId, String> {
        let digits = text.strip_prefix("WP").ok_or_else(|| {
            format!("`{text}` is not a work package id (expected `WP` followed by 2-4 digits, e.g. `WP01`)")
        })?;
        if !(2..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}` is not a work package id (expected `WP` followed by 2-4 digits, e.g. `WP01`)"
            ));
        }
        Ok(WpId(text.to_string()))
    }

    /// The id as text, e.g. `"WP03"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The numeric part (`WP03` → 3).
    pub fn number(&self) -> u32 {
        self.0[2..].parse().unwrap_or(0)
    }

    /// The id at the start of a WP file name (`WP03-title.md` → `Some("WP03")`), without validating
    /// it: `None` when the name does not look like a WP file at all.
    pub fn prefix_of_file_name(file_name: &str) -> Option<&str> {
        let rest = file_name.strip_prefix("WP")?;
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        let end = 2 + digits;
        // `WP` must be followed by digits and then a separator or the extension.
        if digits == 0 {
            return None;
        }
        match file_name[end..].chars().next() {
            None | Some('-') | Some('_') | Some('.') | Some(' ') => Some(&file_name[..end]),
            _ => None,
        }
    }
}

impl TryFrom<String> for WpId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        WpId::parse(&value)
    }
}

impl From<WpId> for String {
    fn from(id: WpId) -> String {
        id.0
    }
}

impl Ord for WpId {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.number(), self.0.len(), &self.0).cmp(&(other.number(), other.0.len(), &other.0))
    }
}

impl PartialOrd for WpId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for WpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for WpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A branch name a user gave (`main`, `release/1.2`): every `/`-separated part passes
/// [`check_ref_component`]. The one place that rule is spelled; options, configuration and
/// templates all parse through it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BranchName(String);

impl BranchName {
    /// Parses a branch name; the error names it and says what is wrong.
    ///
    /// ```
    /// use kitty_orchestrator::ids::BranchName;
    /// assert_eq!(BranchName::parse("release/1.2").unwrap().as_str(), "release/1.2");
    /// assert_eq!(
    ///     BranchName::parse("feature/a..b").unwrap_err(),
    ///     "`feature/a..b` is not a valid branch name: it contains `..`"
    /// );
    /// ```
    pub fn parse(text: &str) -> Result<BranchName, String> {
        match text.split('/').find_map(|part| check_ref_component(part).err()) {
            Some(why) => Err(format!("`{text}` is not a valid branch name: {why}")),
            None => Ok(BranchName(text.to_string())),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BranchName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        BranchName::parse(&value)
    }
}

impl From<BranchName> for String {
    fn from(name: BranchName) -> String {
        name.0
    }
}

impl std::ops::Deref for BranchName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Checks that `text` can be used verbatim as one component of a git ref name *and* of a file
/// path: the rules of `git check-ref-format` for a single component, plus no path separators.
/// Returns what is wrong, or `Ok(())`.
pub fn check_ref_component(text: &str) -> Result<(), String> {
    let fail = |why: String| Err(why);
    if text.is_empty() {
        return fail("it is empty".into());
    }
    if text == "@" {
        return fail("`@` alone is not allowed in a git ref".into());
    }
    for (prefix, name) in [(".", "`.`"), ("-", "`-`")] {
        if text.starts_with(prefix) {
            return fail(format!("it starts with {name}"));
        }
    }
    for (suffix, name) in [(".lock", "`.lock`"), (".", "`.`")] {
        if text.ends_with(suffix) {
            return fail(format!("it ends with {name}"));
        }
    }
    for (needle, name) in [("..", "`..`"), ("@{", "`@{`")] {
        if text.contains(needle) {
            return fail(format!("it contains {name}"));
        }
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return fail(format!("it contains the control character {c:?}"));
    }
    if let Some(c) = text.chars().find(|c| matches!(c, ' ' | '/' | '\\' | '~' | '^' | ':' | '?' | '*' | '[')) {
        return fail(format!("it contains `{c}`"));
    }
    Ok(())
}

/// A feature slug such as `020-autonomous-multi-agent-orchestrator`: the name of the feature's
/// directory under `kitty-specs/`, safe as a ref component and a path component.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FeatureSlug(String);

impl FeatureSlug {
    /// Validates a slug (see [`check_ref_component`]).
    pub fn parse(text: &str) -> Result<FeatureSlug, String> {
        check_ref_component(text).map_err(|why| {
            format!("feature name `{}` cannot be used in git refs and paths: {why}", text.escape_debug())
        })?;
        Ok(FeatureSlug(text.to_string()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FeatureSlug {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        FeatureSlug::parse(&value)
    }
}

impl From<FeatureSlug> for String {
    fn from(slug: FeatureSlug) -> String {
        slug.0
    }
}

impl fmt::Display for FeatureSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for FeatureSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wp_ids_accept_two_to_four_digits_only() {
        for ok in ["WP01", "WP123", "WP0001"] {
            assert!(WpId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["WP1", "WP12345", "wp01", "WP0a", "WP01 ", "", "WP"] {
            assert!(WpId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wp_ids_order_numerically() {
        let mut ids: Vec<WpId> = ["WP100", "WP09", "WP10", "WP02"].iter().map(|s| WpId::parse(s).unwrap()).collect();
        ids.sort();
        let names: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        assert_eq!(names, ["WP02", "WP09", "WP10", "WP100"]);
    }

    #[test]
    fn file_name_prefix() {
        assert_eq!(WpId::prefix_of_file_name("WP03-title.md"), Some("WP03"));
        assert_eq!(WpId::prefix_of_file_name("WP03.md"), Some("WP03"));
        assert_eq!(WpId::prefix_of_file_name("WP7-x.md"), Some("WP7"));
        assert_eq!(WpId::prefix_of_file_name("WPx.md"), None);
        assert_eq!(WpId::prefix_of_file_name("README.md"), None);
    }

    #[test]
    fn unsafe_ref_components_are_rejected() {
        for bad in ["", "..", "a..b", "a/b", "a b", "x.lock", "-x", ".x", "x.", "a\tb", "a:b", "@", "a@{b"] {
            assert!(check_ref_component(bad).is_err(), "{bad:?}");
        }
        for ok in ["020-autonomous-multi-agent-orchestrator", "a.b", "feature_1"] {
            assert!(check_ref_component(ok).is_ok(), "{ok}");
        }
    }
}
