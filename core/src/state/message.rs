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
        (WpEvent::Reclaimed { previous, .. }, _) => format!("reclaimed from dead run {}", short(&previous.run_id)),
        (WpEvent::Released { reason }, _) => format!("released ({})", trailer_value(reason)),
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

fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
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

/// Assembles subject, body and trailers. The body cannot end the message: the trailer paragraph
/// is always last, so a body line that looks like a trailer is never read as one.
pub fn compose(subject: &str, body: &str, trailers: &[(&'static str, String)]) -> String {
    let mut message = trailer_value(subject);
    message.push_str("\n\n");
    let body = body.trim();
    if !body.is_empty() {
        // Drop control characters other than newlines/tabs; keep the text otherwise as given.
        let clean: String = body.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect();
        message.push_str(&clean);
        message.push_str("\n\n");
    }
    for (key, value) in trailers {
        message.push_str(key);
        message.push_str(": ");
        message.push_str(value);
        message.push('\n');
    }
    message
}

/// The `Kitty-*` trailers of a message (libgit2's trailer parser reads only the last paragraph).
pub fn parse_trailers(message: &str) -> Vec<(String, String)> {
    match git2::message_trailers_strs(message) {
        Ok(trailers) => trailers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_values_are_one_line() {
        assert_eq!(trailer_value("line one\nKitty-Lane: done\r\n\tx"), "line one Kitty-Lane: done x");
        assert!(trailer_value(&"x".repeat(500)).chars().count() <= TRAILER_MAX + 1);
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
}
