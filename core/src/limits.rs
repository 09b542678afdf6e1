//! Bounds on what agents report: free text and numbers from agent output are hostile input, and
//! must never make a snapshot unreadable (`inf` is not JSON) or huge (a multi-megabyte reason
//! copied into every later event). The state machine applies them; the output parser drops bad
//! numbers with a warning before they get that far.

/// Longest free text (reason, feedback) a snapshot keeps; longer text is cut with a note. Agent
/// output is hostile input: a multi-megabyte `KITTY-STATUS: blocked …` line must not become a
/// multi-megabyte `state.json` copied into every later event.
pub const MAX_TEXT: usize = 64 * 1024;

/// Largest cost one attempt may add, in USD. A reported cost above it (or negative, or not a
/// finite number) is not a cost but a bug or an attack, and is not counted.
pub const MAX_ATTEMPT_COST_USD: f64 = 10_000.0;

/// Free text bounded to [`MAX_TEXT`] bytes (cut on a character boundary).
pub fn bounded_text(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut cut = MAX_TEXT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [cut at {MAX_TEXT} of {} bytes]", &text[..cut], text.len())
}

/// A cost that can be added to a snapshot: finite, non-negative, at most
/// [`MAX_ATTEMPT_COST_USD`].
pub fn valid_cost(cost: Option<f64>) -> Option<f64> {
    cost.filter(|c| c.is_finite() && *c >= 0.0 && *c <= MAX_ATTEMPT_COST_USD)
}

/// Longest session id kept.
pub const MAX_SESSION_ID: usize = 128;

/// A session id that can be recorded and handed back to the agent (as an argument, or in an
/// ACP `session/load`): at most [`MAX_SESSION_ID`] characters of letters, digits, `.`, `_`, `:`
/// and `-`, starting with a letter or digit — never an option (`--…`), a path or a newline.
pub fn valid_session(id: Option<&str>) -> Option<String> {
    let id = id?;
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    (first_ok && rest_ok && id.len() <= MAX_SESSION_ID).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::valid_session;

    #[test]
    fn only_plain_session_ids_are_kept() {
        for good in ["ses_dad8221d8ffepnIxEjayfzuzg9", "0199a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b", "s1"] {
            assert_eq!(valid_session(Some(good)).as_deref(), Some(good));
        }
        let long = "a".repeat(129);
        for bad in ["--dangerously-skip-permissions", "-x", "../../etc", "a b", "a\nb", "", long.as_str(), "a/b"] {
            assert_eq!(valid_session(Some(bad)), None, "{bad:?}");
        }
    }
}
