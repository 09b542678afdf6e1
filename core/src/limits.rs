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
