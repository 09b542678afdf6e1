//! Editing a WP file the way spec-kitty 2.x (flat, frontmatter `lane:`) and 0.8 (lane
//! directories) did on a move: the frontmatter's `lane`, `agent`, `shell_pid` (and
//! `review_status`/`reviewed_by` on approval) set, and a line appended to its Activity Log:
//! `- <ts Z> – <agent> – shell_pid=<pid> – lane=<lane> – <note>`. Only those lines change;
//! every other byte of the file stays as it was.

/// What one move writes into a WP file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move<'a> {
    /// The new lane, in that version's words (`planned`, `doing`, `for_review`, `done`).
    pub lane: &'a str,
    /// Who moved it.
    pub agent: &'a str,
    /// The agent's process id, when one ran.
    pub shell_pid: Option<u32>,
    /// The reviewer, on approval.
    pub reviewed_by: Option<&'a str>,
    /// UTC time, `2026-01-18T17:38:27Z`.
    pub at: &'a str,
    /// The Activity Log note.
    pub note: &'a str,
}

/// The frontmatter's top-level `lane:` value, unquoted.
pub fn frontmatter_lane(text: &str) -> Option<String> {
    let (start, end) = bounds(text)?;
    text.lines().skip(start).take(end - start).find_map(|line| {
        line.strip_prefix("lane:").map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
    })
}

/// Line indexes (first key line, closing `---` line) of the frontmatter.
fn bounds(text: &str) -> Option<(usize, usize)> {
    let mut lines = text.lines();
    if lines.next()?.trim_start_matches('\u{feff}').trim_end() != "---" {
        return None;
    }
    let end = text.lines().enumerate().skip(1).find(|(_, l)| matches!(l.trim_end(), "---" | "..."))?.0;
    Some((1, end))
}

/// YAML double-quoted scalar (the style spec-kitty's files use).
fn quoted(value: &str) -> String {
    let escaped: String = value
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            '\n' | '\r' | '\t' => vec![' '],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// `text` after `m`: the keys set (replacing a key's whole value, continuation lines included,
/// or added before the closing `---`) and the Activity Log line appended (the section made
/// when missing). `None` when the file has no frontmatter.
pub fn apply_move(text: &str, m: &Move<'_>) -> Option<String> {
    let (start, end) = bounds(text)?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let pid = m.shell_pid.map(|p| p.to_string()).unwrap_or_default();
    let mut keys: Vec<(&str, String)> =
        vec![("lane", quoted(m.lane)), ("agent", quoted(m.agent)), ("shell_pid", quoted(&pid))];
    if let Some(reviewer) = m.reviewed_by {
        keys.push(("review_status", quoted("approved")));
        keys.push(("reviewed_by", quoted(reviewer)));
    }
    let mut end = end;
    for (key, value) in keys {
        let prefix = format!("{key}:");
        match (start..end).find(|&i| lines[i].starts_with(&prefix)) {
            Some(i) => {
                // A block value continues on indented lines: they go with the old value.
                let mut j = i + 1;
                while j < end && (lines[j].starts_with(' ') || lines[j].starts_with('\t') || lines[j].starts_with('-'))
                {
                    j += 1;
                }
                lines.splice(i..j, [format!("{key}: {value}")]);
                end -= j - i - 1;
            }
            None => {
                lines.insert(end, format!("{key}: {value}"));
                end += 1;
            }
        }
    }
    let pid_part = if pid.is_empty() { String::new() } else { format!(" – shell_pid={pid}") };
    let note = m.note.replace(['\n', '\r'], " ");
    let entry = format!("- {} – {}{pid_part} – lane={} – {}", m.at, m.agent, m.lane, note.trim());
    let section = lines.iter().position(|l| l.trim() == "## Activity Log");
    match section {
        Some(at) => {
            // After the section's last line (before the next heading, or at the end).
            let next = lines.iter().enumerate().skip(at + 1).find(|(_, l)| l.starts_with("## ")).map(|(i, _)| i);
            let mut insert = next.unwrap_or(lines.len());
            while insert > at + 1 && lines[insert - 1].trim().is_empty() {
                insert -= 1;
            }
            if insert == at + 1 {
                lines.insert(insert, String::new());
                insert += 1;
            }
            lines.insert(insert, entry);
        }
        None => {
            while lines.last().is_some_and(|l| l.trim().is_empty()) {
                lines.pop();
            }
            lines.extend([String::new(), "## Activity Log".to_string(), String::new(), entry]);
        }
    }
    let mut out = lines.join(newline);
    out.push_str(newline);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "---\nwork_package_id: \"WP08\"\ntitle: \"CLI\"\nlane: \"planned\"\nagent: \"\"\nshell_pid: \"\"\nhistory:\n  - lane: \"planned\"\n---\n\n# WP08\n\nBody.\n\n## Activity Log\n\n- 2026-01-18T16:21:51Z – system – lane=planned – Prompt generated\n";

    #[test]
    fn a_move_changes_only_its_lines() {
        let m = Move {
            lane: "doing",
            agent: "claude",
            shell_pid: Some(42),
            reviewed_by: None,
            at: "2026-12-02T01:00:00Z",
            note: "Started implementation",
        };
        let out = apply_move(FILE, &m).unwrap();
        assert_eq!(frontmatter_lane(&out).as_deref(), Some("doing"));
        assert!(out.contains("agent: \"claude\"\nshell_pid: \"42\"\nhistory:\n  - lane: \"planned\"\n---"), "{out}");
        assert!(out.ends_with("Prompt generated\n- 2026-12-02T01:00:00Z – claude – shell_pid=42 – lane=doing – Started implementation\n"), "{out}");
        assert_eq!(out.lines().count(), FILE.lines().count() + 1);
    }

    #[test]
    fn approval_records_the_reviewer_and_missing_sections_are_made() {
        let file = "---\nwork_package_id: WP01\n---\n# WP01\n";
        let m = Move {
            lane: "done",
            agent: "codex",
            shell_pid: None,
            reviewed_by: Some("codex"),
            at: "T",
            note: "Review \"passed\"\nok",
        };
        let out = apply_move(file, &m).unwrap();
        assert!(out.contains("lane: \"done\"\nagent: \"codex\"\nshell_pid: \"\"\nreview_status: \"approved\"\nreviewed_by: \"codex\"\n---"), "{out}");
        assert!(out.ends_with("## Activity Log\n\n- T – codex – lane=done – Review \"passed\" ok\n"), "{out}");
        assert!(apply_move("no frontmatter", &m).is_none());
    }
}
