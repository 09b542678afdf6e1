//! What the board's routes answer, built from the refs on every request (so a run in another
//! process, or another machine's run after a fetch, shows as it is now).

use std::io::{Read, Seek, SeekFrom};

use super::shared::Shared;
use crate::report::{esc, live_html};

/// Most bytes of an agent log shown (its end).
const LOG_TAIL: u64 = 16 * 1024;

/// Most history lines shown for one WP (its newest).
const HISTORY_LINES: usize = 200;

/// 16 random bytes as hex, from the kernel's generator (a script nonce, a token).
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom") {
        let _ = urandom.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `/`: the live page.
pub(super) fn live(shared: &Shared) -> Result<(String, &'static str), crate::Error> {
    let report = shared.orch.report(&shared.feature)?;
    Ok((live_html(&report, &random_hex()), "text/html; charset=utf-8"))
}

/// `/report.json`.
pub(super) fn report_json(shared: &Shared) -> Result<(String, &'static str), crate::Error> {
    let report = shared.orch.report(&shared.feature)?;
    let json = serde_json::to_string(&report).unwrap_or_else(|_| "{}".into());
    Ok((json, "application/json"))
}

/// `/wp/<WP>`: the WP's chain (time, event subject), newest last, and the end of its latest
/// agent log — both redacted again with the configuration's secrets, and escaped.
pub(super) fn wp(shared: &Shared, wp: &str) -> Result<(String, &'static str), crate::Error> {
    let history = shared.orch.history(&shared.feature, Some(wp))?;
    let redactor = shared.orch.redactor();
    let mut out = format!("<h3>{}</h3>\n<table><tr><th>time</th><th>event</th></tr>\n", esc(wp));
    let skip = history.len().saturating_sub(HISTORY_LINES);
    for entry in &history[skip..] {
        out.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
            esc(&entry.state.updated_at),
            esc(&redactor.apply(&entry.subject))
        ));
    }
    out.push_str("</table>\n");
    let log = history.iter().rev().find_map(|e| e.state.log.clone());
    match log.as_deref().map(|path| tail(&shared.orch.repo_root().join(path))) {
        Some(Ok(text)) => {
            out.push_str(&format!(
                "<p class=\"sum\">The end of <code>{}</code>:</p>\n<pre>{}</pre>\n",
                esc(log.as_deref().unwrap_or_default()),
                esc_lines(&redactor.apply(&text))
            ));
        }
        Some(Err(err)) => {
            out.push_str(&format!("<p class=\"sum\">Its log cannot be read: {}</p>\n", esc(&err.to_string())))
        }
        None => out.push_str("<p class=\"sum\">No agent has run on it yet.</p>\n"),
    }
    Ok((out, "text/html; charset=utf-8"))
}

/// [`esc`] keeping line breaks (for `<pre>`).
fn esc_lines(text: &str) -> String {
    text.lines().map(esc).collect::<Vec<_>>().join("\n")
}

/// The last [`LOG_TAIL`] bytes of a file, from a line start.
fn tail(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL)))?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(if len > LOG_TAIL { text.split_once('\n').map_or(text.clone(), |(_, rest)| rest.to_string()) } else { text })
}

/// The fingerprint of the feature's refs (see [`crate::Orchestrator::refs_fingerprint`]).
pub(super) fn fingerprint(shared: &Shared) -> Result<String, crate::Error> {
    shared.orch.refs_fingerprint(&shared.feature)
}
