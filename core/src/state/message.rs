//! Event commit messages: a subject a person can read, a free body, and a final paragraph of
//! `Kitty-*` trailers that restates the whole state (so `git log --format=%(trailers)` is a board).

use super::model::{RunState, WpEvent, WpState};

/// Longest trailer value we write; longer free text lives in the body and `state.json`.
const TRAILER_MAX: usize = 200;

/// A value safe to put after `Key: `: one line, no control characters, bounded length. Newlines
/// become spaces, so free text can never start a trailer line of its own (no trailer injection).
pub fn trailer_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(TRAILER_MAX));
    let mut last_space = true;
    for c in text.chars() {
        if is_invisible_format(c) {
            continue;
        }
        let c = if c.is_control() || c.is_whitespace() { ' ' } else { c };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        if out.chars().count() >= TRAILER_MAX {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

/// `WP03: doing -> for_review (codex, attempt 2)` or `WP03: agent started (codex, review, attempt 1)`.
pub fn wp_subject(before: Option<&WpState>, after: &WpState) -> String {
    let who = match (&after.agent, after.attempt) {
        (Some(agent), attempt) if attempt > 0 => format!(" ({agent}, attempt {attempt})"),
        (Some(agent), _) => format!(" ({agent})"),
        _ => String::new(),
    };
    let what = match (&after.last_event, before) {
        (WpEvent::Imported { lane }, _) => format!("imported as {lane}"),
        (_, Some(before)) if before.lane != after.lane => format!("{} -> {}{who}", before.lane, after.lane),
        (WpEvent::Claimed { owner }, _) => format!("claimed by run {} ({} stays)", short(&owner.run_id), after.lane),
        (WpEvent::Reclaimed { owner, previous }, _) if owner.host != previous.host => {
            format!("reclaimed from run {} on {} (its lease lapsed)", short(&previous.run_id), previous.host)
        }
        (WpEvent::Reclaimed { previous, .. }, _) => format!("reclaimed from dead run {}", short(&previous.run_id)),
        (WpEvent::Released { reason }, _) => format!("released ({})", trailer_value(reason)),
        (WpEvent::ForceReleased { previous, .. }, _) => {
            format!("released by hand from run {} on {}", short(&previous.run_id), previous.host)
        }
        (WpEvent::WorktreeReady { branch, .. }, _) => format!("worktree ready on {branch}"),
        (WpEvent::AgentStarted { agent, role, attempt, .. }, _) => {
            format!("{} agent started ({agent}, attempt {attempt})", role.as_str())
        }
        (WpEvent::AgentFinished { agent, role, attempt, failure, .. }, _) => match failure {
            None => format!("{} agent succeeded ({agent}, attempt {attempt})", role.as_str()),
            Some(class) => format!("{} agent failed: {class} ({agent}, attempt {attempt})", role.as_str()),
        },
        (WpEvent::RetryScheduled { agent, attempt, delay_ms, failure }, _) => {
            format!("retry scheduled after {failure} ({agent}, attempt {attempt} in {delay_ms} ms)")
        }
        (event, _) => event.name().replace('_', " "),
    };
    format!("{}: {what}", after.wp)
}

/// The first ten characters of an id, for subjects. By characters, not bytes: a run id read from
/// someone else's `state.json` may hold anything.
fn short(id: &str) -> String {
    id.chars().take(10).collect()
}

/// The trailer paragraph restating `state`.
pub fn wp_trailers(state: &WpState) -> Vec<(&'static str, String)> {
    let mut t = vec![
        ("Kitty-Feature", state.feature.clone()),
        ("Kitty-WP", state.wp.clone()),
        ("Kitty-Event", state.last_event.name().to_string()),
        ("Kitty-Lane", state.lane.to_string()),
        ("Kitty-Seq", state.seq.to_string()),
        ("Kitty-Event-Id", state.event_id.clone()),
        ("Kitty-Attempt", state.attempt.to_string()),
        ("Kitty-Review-Cycle", state.review_cycle.to_string()),
    ];
    let optional = [
        ("Kitty-Agent", state.agent.clone()),
        ("Kitty-Role", state.role.map(|r| r.as_str().to_string())),
        ("Kitty-Run", state.run_id.clone()),
        ("Kitty-Owner", state.owner.as_ref().map(|o| format!("{} pid {} on {}", o.run_id, o.pid, o.host))),
        ("Kitty-Head", state.head.clone()),
        ("Kitty-Failure", state.failure.map(|f| f.to_string())),
        ("Kitty-Reason", state.reason.clone()),
    ];
    t.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    t.into_iter().map(|(k, v)| (k, trailer_value(&v))).collect()
}

/// Subject for a run event.
pub fn run_subject(state: &RunState) -> String {
    format!("run {}: {}", state.feature, state.last_event.name().trim_start_matches("run_"))
}

/// The trailer paragraph restating a run state.
pub fn run_trailers(state: &RunState) -> Vec<(&'static str, String)> {
    let mut t = vec![
        ("Kitty-Feature", state.feature.clone()),
        ("Kitty-Event", state.last_event.name().to_string()),
        ("Kitty-Run-Status", state.status.as_str().to_string()),
        ("Kitty-Seq", state.seq.to_string()),
        ("Kitty-Event-Id", state.event_id.clone()),
    ];
    if let Some(owner) = &state.owner {
        t.push(("Kitty-Run", owner.run_id.clone()));
        t.push(("Kitty-Owner", format!("{} pid {} on {}", owner.run_id, owner.pid, owner.host)));
    }
    t.into_iter().map(|(k, v)| (k, trailer_value(&v))).collect()
}

/// Longest body kept in a commit message; longer free text is cut here (with a note). The full
/// text of feedback and reasons is in `state.json`, itself bounded by the state machine.
pub const BODY_MAX: usize = 64 * 1024;

/// Indentation of every body line. An indented line can never be read as anything but body
/// text: not a trailer (`Key: value` must start the line), not git's patch divider (`---` at the
/// start of a line, which makes git and libgit2 stop reading the message there), not a comment
/// (`#`), not a scissors line. That is what makes the message unbreakable by construction.
const BODY_INDENT: &str = "    ";

/// The body as it goes into a commit message: line ends normalised (`CRLF`, lone `CR` → `LF`),
/// control characters other than tab dropped (a NUL would cut the message short), tabs expanded,
/// trailing spaces removed, runs of blank lines collapsed, cut at [`BODY_MAX`], and every line
/// indented by [`BODY_INDENT`].
pub fn quote_body(body: &str) -> String {
    let normalised = body.replace("\r\n", "\n").replace('\r', "\n");
    let cut = normalised.len() > BODY_MAX;
    let text = &normalised[..floor_char(&normalised, BODY_MAX)];
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut blank_run = true; // no leading blank lines
    for line in text.split('\n') {
        let clean: String = line
            .chars()
            .filter_map(|c| match c {
                '\t' => Some(' '),
                c if c.is_control() || is_invisible_format(c) => None,
                c => Some(c),
            })
            .collect();
        let clean = clean.trim_end();
        if clean.is_empty() {
            if !blank_run {
                out.push('\n');
            }
            blank_run = true;
            continue;
        }
        blank_run = false;
        out.push_str(BODY_INDENT);
        out.push_str(clean);
        out.push('\n');
    }
    if cut {
        out.push_str(BODY_INDENT);
        out.push_str(&format!("[… cut at {BODY_MAX} bytes of {}]\n", normalised.len()));
    }
    out.trim_end_matches('\n').to_string()
}

/// The largest char boundary at or below `at`.
fn floor_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Unicode formatting characters that change how text is displayed without being visible
/// (bidirectional overrides and isolates, zero-width joiners): dropped from messages so that a
/// commit cannot show one thing and say another.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Assembles subject, body and trailers: the subject is one line, every body line is indented
/// (see [`quote_body`]), and the trailer paragraph is always last. Whatever the body contains,
/// the subject and the trailers read back exactly as written, by us, by libgit2 and by git.
pub fn compose(subject: &str, body: &str, trailers: &[(&'static str, String)]) -> String {
    let mut message = trailer_value(subject);
    if message.is_empty() {
        message.push_str("kitty event");
    }
    message.push_str("\n\n");
    let body = quote_body(body);
    if !body.is_empty() {
        message.push_str(&body);
        message.push_str("\n\n");
    }
    for (key, value) in trailers {
        message.push_str(key);
        message.push_str(": ");
        message.push_str(&trailer_value(value));
        message.push('\n');
    }
    message
}

/// The trailers of a message we wrote: the `Key: value` lines of its last paragraph.
///
/// Our own reader, not git's: git and libgit2 stop at a line starting with `---` (a patch
/// divider), which bodies written before the body was indented may contain. The last paragraph
/// of every event message is the trailer paragraph, so reading it directly reads those commits
/// too.
#[cfg(test)]
pub fn parse_trailers(message: &str) -> Vec<(String, String)> {
    trailers(message).map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

/// The trailer lines of a message without copying: `(key, value)` pairs borrowed from the message.
pub fn trailers(message: &str) -> impl Iterator<Item = (&str, &str)> {
    // Only the last paragraph can hold trailers: find it from the end, without splitting a body
    // that may be long (an agent's output tail) into lines.
    let text = message.trim_end_matches(|c: char| c.is_whitespace());
    let mut start = text.len();
    let mut paragraph_start = None;
    while let Some(newline) = text[..start].rfind('\n') {
        if text[newline + 1..start].trim().is_empty() {
            paragraph_start = Some(start);
            break;
        }
        start = newline;
    }
    // The first paragraph is the subject, never trailers.
    let paragraph = paragraph_start.map_or("", |begin| &text[begin..]);
    paragraph.lines().filter_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        key_ok.then(|| (key, value.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_values_are_one_line() {
        assert_eq!(trailer_value("line one\nKitty-Lane: done\r\n\tx"), "line one Kitty-Lane: done x");
        assert!(trailer_value(&"x".repeat(500)).chars().count() <= TRAILER_MAX + 1);
        assert_eq!(trailer_value("a\u{202E}b\u{0}c"), "ab c");
    }

    #[test]
    fn injected_trailers_in_the_body_are_not_read() {
        let message = compose(
            "WP01: subject",
            "Kitty-Lane: done\n\nstill body",
            &[("Kitty-Lane", "planned".into()), ("Kitty-Seq", "0".into())],
        );
        let trailers = parse_trailers(&message);
        assert_eq!(trailers, vec![("Kitty-Lane".into(), "planned".into()), ("Kitty-Seq".into(), "0".into())]);
    }

    #[test]
    fn a_patch_divider_in_the_body_does_not_hide_the_trailers() {
        let trailers = [("Kitty-Lane", "doing".to_string()), ("Kitty-Seq", "4".to_string())];
        let message = compose("WP01: for_review -> doing", "Needs work.\n\n---\n\n## Details\n---\nfix it", &trailers);
        let ours = parse_trailers(&message);
        let theirs: Vec<(String, String)> = git2::message_trailers_strs(&message)
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let expected: Vec<(String, String)> = trailers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        assert_eq!(ours, expected);
        assert_eq!(theirs, expected, "{message}");
    }

    #[test]
    fn old_messages_with_an_unindented_divider_are_still_read() {
        // What earlier builds wrote: the body as given, then the trailers.
        let old = "WP01: for_review -> doing\n\nfix\n---\nmore\n\nKitty-Lane: doing\nKitty-Seq: 4\n";
        assert_eq!(git2::message_trailers_strs(old).unwrap().len(), 0, "libgit2 stops at the divider");
        assert_eq!(parse_trailers(old), vec![("Kitty-Lane".into(), "doing".into()), ("Kitty-Seq".into(), "4".into())]);
    }

    /// A hostile free-text body: patch dividers, fake trailers, comments, scissors, CR, NUL,
    /// other control characters, bidi overrides, blank-only lines, long lines, multi-byte text.
    fn hostile_body(rng: &mut fastrand::Rng) -> String {
        const PIECES: [&str; 24] = [
            "---",
            "--- a/file\n+++ b/file",
            "Kitty-Lane: done",
            "Kitty-Seq: 999",
            "Kitty-Event-Id: 01FAKE",
            "Signed-off-by: Mallory <m@example.com>",
            "# comment",
            "# ------------------------ >8 ------------------------",
            "\r",
            "\r\n",
            "\0",
            "\u{1b}[31mred\u{1b}[0m",
            "\u{202E}evil",
            "\t\t",
            "   ",
            "\n\n\n",
            "Key: value",
            "Co-authored-by: x <y@z>",
            "(cherry picked from commit abc)",
            "ünïcödé ✓ 日本語",
            "\u{2028}",
            "Kitty-Lane:done",
            "diff --git a/x b/x",
            "\x7f",
        ];
        let mut body = String::new();
        for _ in 0..rng.usize(0..20) {
            match rng.u8(0..10) {
                0 => body.push_str(&"y".repeat(rng.usize(0..3000))),
                1 => body.push(char::from_u32(rng.u32(0..0x11_0000)).unwrap_or('?')),
                _ => body.push_str(PIECES[rng.usize(0..PIECES.len())]),
            }
            if rng.bool() {
                body.push('\n');
            }
        }
        body
    }

    #[test]
    fn thousands_of_hostile_bodies_never_change_the_subject_or_the_trailers() {
        let mut rng = fastrand::Rng::with_seed(0x006b_6974_7479);
        let trailers = [
            ("Kitty-Feature", "001-x".to_string()),
            ("Kitty-Lane", "for_review".to_string()),
            ("Kitty-Seq", "7".to_string()),
            ("Kitty-Reason", "a: b --- c".to_string()),
        ];
        let expected: Vec<(String, String)> = trailers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        for round in 0..5000 {
            let body = hostile_body(&mut rng);
            let message = compose("WP02: doing -> for_review (codex, attempt 1)", &body, &trailers);
            assert!(!message.contains('\0') && !message.contains('\r'), "round {round}");
            assert_eq!(message.lines().next(), Some("WP02: doing -> for_review (codex, attempt 1)"), "round {round}");
            assert_eq!(parse_trailers(&message), expected, "round {round}: {body:?}");
            let theirs: Vec<(String, String)> = git2::message_trailers_strs(&message)
                .unwrap()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(theirs, expected, "round {round}: libgit2 on {body:?}");
        }
    }

    #[test]
    fn a_huge_body_is_cut_and_the_cut_is_said() {
        let body = "z".repeat(3 * BODY_MAX);
        let quoted = quote_body(&body);
        assert!(quoted.len() < BODY_MAX + 200, "{}", quoted.len());
        assert!(quoted.ends_with(&format!("bytes of {}]", 3 * BODY_MAX)), "{}", &quoted[quoted.len() - 60..]);
    }

    #[test]
    fn subjects_shorten_ids_by_characters() {
        assert_eq!(short("ééééééééééééé"), "éééééééééé");
        assert_eq!(short("abc"), "abc");
    }
}
