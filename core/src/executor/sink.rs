//! Where each piece of output goes: the parser (raw and whole), the log, the tail and subscribers
//! (redacted, cut at [`super::MAX_LINE`]).

use std::collections::VecDeque;
use std::io::Write;

use tokio::sync::mpsc;

use super::output::OutputParser;
use super::stream::Piece;
use super::types::{AgentRun, OutputLine, Stream, clip};
use crate::redact::Redactor;

/// Lines of output kept for the outcome's `tail`.
pub(super) const TAIL_LINES: usize = 40;

/// Where one output line goes: redaction, log, parser, tail, subscriber.
pub(super) struct LineSink<'a, W: Write> {
    pub(super) log: &'a mut W,
    pub(super) parser: &'a mut OutputParser,
    pub(super) tail: &'a mut VecDeque<String>,
    pub(super) subscriber: &'a Option<mpsc::Sender<OutputLine>>,
    pub(super) run: &'a AgentRun,
    pub(super) redactor: &'a Redactor,
    pub(super) lines: u64,
    pub(super) dropped: u64,
    /// Lines reporting a refused write, collected only when the process is confined.
    pub(super) refused: Option<Vec<String>>,
}

/// How programs report a write the kernel refused (Landlock denials are `EACCES`/`EPERM`; a
/// read-only bind shows as `EROFS`). Node spells them by code, lower case: `EACCES: permission denied`.
const REFUSAL_PHRASES: [&str; 6] =
    ["Permission denied", "Operation not permitted", "Read-only file system", "EACCES", "EPERM", "EROFS"];

/// The part of `line` around a refusal phrase (an agent's JSON line can be long), from a word's
/// start, if it has one. git's own `packed-refs.lock` refusal is left out: every confined
/// `git commit` prints it (it tries to delete the worktree's `AUTO_MERGE` pseudo-ref, which
/// locks `packed-refs`; the commit itself succeeds), so it says nothing about the agent.
pub(super) fn refusal_in(line: &str) -> Option<String> {
    if line.contains("packed-refs.lock") {
        return None;
    }
    let at = REFUSAL_PHRASES.iter().filter_map(|p| line.find(p).map(|i| (i, p.len()))).min()?;
    let mut start = line[..at.0].char_indices().rev().nth(119).map_or(0, |(i, _)| i);
    if start > 0 {
        start = line[start..at.0].find(char::is_whitespace).map_or(start, |i| start + i);
    }
    let end = line[at.0 + at.1..].char_indices().nth(40).map_or(line.len(), |(i, _)| at.0 + at.1 + i);
    Some(line[start..end].trim().to_string())
}

impl<W: Write> LineSink<'_, W> {
    pub(super) fn take(&mut self, stream: Stream, piece: &Piece) -> std::io::Result<()> {
        if piece.ends_line {
            self.lines += 1;
        }
        if stream == Stream::Stdout {
            // The parser sees the raw line, whole (JSON must stay intact); its result is redacted
            // later. The log, the tail and subscribers get lines cut at MAX_LINE.
            self.parser.feed_piece(&piece.text, piece.ends_line);
        }
        let line = self.redactor.apply(&piece.text);
        match stream {
            Stream::Stdout => writeln!(self.log, "{line}")?,
            Stream::Stderr => writeln!(self.log, "[stderr] {line}")?,
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(clip(&line, 2000));
        if let Some(refused) = &mut self.refused
            && refused.len() < super::types::MAX_REFUSED_LINES
            && let Some(found) = refusal_in(&line)
            && !refused.contains(&found)
        {
            refused.push(found);
        }
        if let Some(tx) = self.subscriber {
            let event = OutputLine {
                agent: self.run.command.agent.clone(),
                wp: self.run.wp.clone(),
                stream,
                line,
                activity: None,
            };
            if tx.try_send(event).is_err() {
                self.dropped += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::refusal_in;

    #[test]
    fn a_refusal_is_cut_out_of_a_long_line() {
        assert_eq!(refusal_in("ok"), None);
        assert_eq!(
            refusal_in("denied: /root/x.txt: Permission denied").as_deref(),
            Some("denied: /root/x.txt: Permission denied")
        );
        let long = format!("{}error: Operation not permitted (os error 1){}", "é".repeat(500), "x".repeat(500));
        let cut = refusal_in(&long).unwrap();
        assert!(cut.contains("Operation not permitted") && cut.chars().count() <= 120 + 23 + 40, "{cut}");
        let words = format!("{} token: Permission denied", "word ".repeat(100));
        assert!(refusal_in(&words).unwrap().starts_with("word "), "cut at a word's start");
        assert_eq!(refusal_in("error: Unable to create '/r/.git/packed-refs.lock': Permission denied"), None);
    }
}
