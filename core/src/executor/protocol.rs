//! The agent protocol lines (DESIGN.md §7), read from an agent's final result text; the last
//! occurrence wins.
//!
//! Implementers end with `KITTY-STATUS: done`, `KITTY-STATUS: blocked <reason>` or
//! `KITTY-STATUS: kickback <reason>`; reviewers with `KITTY-VERDICT: approve` or
//! `KITTY-VERDICT: reject` plus feedback. A review without a verdict is never an approval.

use serde::Serialize;

/// What an implementer said about its work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum KittyStatus {
    /// Finished.
    Done,
    /// Cannot continue; needs a person.
    Blocked(String),
    /// The WP itself is wrong (spec, dependencies); send it back to a person.
    Kickback(String),
}

/// A reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Accept the work.
    Approve,
    /// Send it back with feedback.
    Reject,
}

/// Strips markdown decoration around a protocol line (`**KITTY-STATUS: done**`, `` `…` ``, `> …`).
fn clean(line: &str) -> &str {
    line.trim().trim_start_matches(['>', ' ']).trim_matches(|c| c == '*' || c == '`' || c == '_' || c == ' ')
}

fn value_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let line = clean(line);
    let head = line.get(..key.len())?;
    if !head.eq_ignore_ascii_case(key) {
        return None;
    }
    line[key.len()..].trim_start().strip_prefix(':').map(str::trim)
}

/// The last `KITTY-STATUS` line of `text`.
pub fn status(text: &str) -> Option<KittyStatus> {
    text.lines().rev().find_map(|line| {
        let value = value_after(line, "KITTY-STATUS")?;
        let (word, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        let reason = rest.trim().trim_start_matches([':', '-', ' ']).to_string();
        match word.to_ascii_lowercase().trim_end_matches([':', '.']) {
            "done" => Some(KittyStatus::Done),
            "blocked" => Some(KittyStatus::Blocked(reason)),
            "kickback" => Some(KittyStatus::Kickback(reason)),
            _ => None,
        }
    })
}

/// The last `KITTY-VERDICT` line of `text`.
pub fn verdict(text: &str) -> Option<Verdict> {
    text.lines().rev().find_map(|line| {
        let value = value_after(line, "KITTY-VERDICT")?;
        let word = value.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
        match word.to_ascii_lowercase().as_str() {
            "approve" | "approved" => Some(Verdict::Approve),
            "reject" | "rejected" => Some(Verdict::Reject),
            _ => None,
        }
    })
}

/// The reviewer's feedback: the result text without protocol lines (bounded to 16 KiB).
pub fn feedback(text: &str) -> String {
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| value_after(l, "KITTY-VERDICT").is_none() && value_after(l, "KITTY-STATUS").is_none())
        .collect();
    let mut out = kept.join("\n").trim().to_string();
    if out.len() > 16 * 1024 {
        let mut cut = 16 * 1024;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n[feedback truncated]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_status_wins() {
        let text = "KITTY-STATUS: blocked missing key\nwork\n**KITTY-STATUS: done**";
        assert_eq!(status(text), Some(KittyStatus::Done));
        assert_eq!(status("KITTY-STATUS: kickback spec is wrong"), Some(KittyStatus::Kickback("spec is wrong".into())));
        assert_eq!(status("no protocol here"), None);
    }

    #[test]
    fn verdicts_are_exact_not_substrings() {
        assert_eq!(verdict("Looks good.\nKITTY-VERDICT: approve"), Some(Verdict::Approve));
        assert_eq!(verdict("KITTY-VERDICT: reject\nadd tests"), Some(Verdict::Reject));
        // The earlier orchestrator counted "not approved" as approval.
        assert_eq!(verdict("This is not approved."), None);
        assert_eq!(verdict("KITTY-VERDICT: maybe"), None);
        assert_eq!(verdict("`KITTY-VERDICT: approve` then\nKITTY-VERDICT: reject"), Some(Verdict::Reject));
    }

    #[test]
    fn feedback_drops_protocol_lines() {
        assert_eq!(feedback("Add tests.\nKITTY-VERDICT: reject\n"), "Add tests.");
    }
}
