//! The agent protocol lines (DESIGN.md §7), read from an agent's final result text; the last
//! occurrence wins. A line that is also a line of the prompt the agent was given is never read
//! as protocol: an agent that echoes its prompt must not be judged by the prompt's own examples.
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

/// The protocol-looking lines of a prompt: a line of an agent's result equal to one of them
/// (ignoring decoration and spacing) is the prompt echoed back, not the agent's answer. Our
/// prompts give every example protocol line an explanation after it, so no answer an agent is
/// asked to write is itself a line of the prompt.
#[derive(Debug, Clone, Default)]
pub struct PromptLines(std::collections::HashSet<String>);

fn normalised(line: &str) -> String {
    clean(line).split_whitespace().collect::<Vec<_>>().join(" ")
}

impl PromptLines {
    /// Collects the lines of `prompt` that would parse as protocol lines.
    pub fn of(prompt: &str) -> PromptLines {
        PromptLines(
            prompt
                .lines()
                .filter(|l| value_after(l, "KITTY-STATUS").is_some() || value_after(l, "KITTY-VERDICT").is_some())
                .map(normalised)
                .collect(),
        )
    }

    fn contains(&self, line: &str) -> bool {
        !self.0.is_empty() && self.0.contains(&normalised(line))
    }
}

/// The last `KITTY-STATUS` line of `text`.
#[cfg(test)]
pub fn status(text: &str) -> Option<KittyStatus> {
    status_excluding(text, &PromptLines::default())
}

/// The last `KITTY-STATUS` line of `text` that is not a line of the prompt. A `blocked` or
/// `kickback` with nothing after it takes its reason from the lines that follow it (agents often
/// put the reason on the next line, or in a paragraph).
pub fn status_excluding(text: &str, prompt: &PromptLines) -> Option<KittyStatus> {
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().enumerate().rev().filter(|(_, l)| !prompt.contains(l)).find_map(|(at, line)| {
        let value = value_after(line, "KITTY-STATUS")?;
        let (word, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        let mut reason = rest.trim().trim_start_matches([':', '-', ' ']).to_string();
        if reason.is_empty() {
            let following: Vec<&str> = lines[at + 1..]
                .iter()
                .map(|l| clean(l))
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty() && value_after(l, "KITTY-STATUS").is_none())
                .take(20)
                .collect();
            reason = following.join(" ").chars().take(2000).collect();
        }
        match word.to_ascii_lowercase().trim_end_matches([':', '.']) {
            "done" => Some(KittyStatus::Done),
            "blocked" => Some(KittyStatus::Blocked(reason)),
            "kickback" => Some(KittyStatus::Kickback(reason)),
            _ => None,
        }
    })
}

/// The last `KITTY-VERDICT` line of `text`.
#[cfg(test)]
pub fn verdict(text: &str) -> Option<Verdict> {
    verdict_excluding(text, &PromptLines::default())
}

/// The last `KITTY-VERDICT` line of `text` that is not a line of the prompt.
pub fn verdict_excluding(text: &str, prompt: &PromptLines) -> Option<Verdict> {
    text.lines().rev().filter(|l| !prompt.contains(l)).find_map(|line| {
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
    fn a_reason_on_the_lines_after_blocked_is_the_reason() {
        let text = "I tried.\nKITTY-STATUS: blocked\nThe API key is missing\nfrom the environment.\n\nThanks.";
        assert_eq!(status(text), Some(KittyStatus::Blocked("The API key is missing from the environment.".into())));
        assert_eq!(
            status("KITTY-STATUS: kickback\n\n**WP02 must come first**"),
            Some(KittyStatus::Kickback("WP02 must come first".into()))
        );
        assert_eq!(status("KITTY-STATUS: blocked"), Some(KittyStatus::Blocked(String::new())));
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
    fn an_echoed_prompt_is_not_an_answer() {
        let prompt = "Review this.\nEnd with:\nKITTY-VERDICT: approve    (it is right)\nor\nKITTY-VERDICT: reject     (then say why)\n";
        let lines = PromptLines::of(prompt);
        assert_eq!(verdict_excluding(prompt, &lines), None);
        // Echoed with other spacing and decoration: still the prompt.
        assert_eq!(verdict_excluding("**KITTY-VERDICT: reject (then say why)**", &lines), None);
        let echoed = format!("{prompt}\nLooks fine.\n**KITTY-VERDICT: approve**");
        assert_eq!(verdict_excluding(&echoed, &lines), Some(Verdict::Approve));
        let impl_prompt = "KITTY-STATUS: blocked <reason>          when you cannot continue";
        assert_eq!(status_excluding(impl_prompt, &PromptLines::of(impl_prompt)), None);
    }

    #[test]
    fn feedback_drops_protocol_lines() {
        assert_eq!(feedback("Add tests.\nKITTY-VERDICT: reject\n"), "Add tests.");
    }
}
