//! Where what an ACP agent does is written: the attempt log (one readable line per message line,
//! tool call, permission, file served, stderr line), the outcome's tail, and subscribers (plain
//! lines, and typed [`Activity`] values). Everything is redacted first.

use std::collections::VecDeque;
use std::io::{BufWriter, Write};

use tokio::sync::mpsc;

use super::super::activity::Activity;
use super::super::sink::{TAIL_LINES, refusal_in};
use super::super::types::{MAX_REFUSED_LINES, OutputLine, Stream, clip};
use crate::redact::Redactor;

/// The log and the counters of one ACP attempt.
pub(super) struct Journal {
    pub(super) log: BufWriter<std::fs::File>,
    pub(super) tail: VecDeque<String>,
    pub(super) lines: u64,
    pub(super) dropped: u64,
    /// Lines reporting a refused write, collected only when the agent is confined.
    pub(super) refused: Option<Vec<String>>,
    subscriber: Option<mpsc::Sender<OutputLine>>,
    redactor: Redactor,
    agent: String,
    wp: String,
    /// A write to the log failed: reported once at the end, the attempt goes on.
    pub(super) failed: Option<std::io::Error>,
}

impl Journal {
    pub(super) fn new(
        log: BufWriter<std::fs::File>,
        subscriber: Option<mpsc::Sender<OutputLine>>,
        redactor: Redactor,
        agent: &str,
        wp: &str,
        confined: bool,
    ) -> Journal {
        Journal {
            log,
            tail: VecDeque::with_capacity(TAIL_LINES),
            lines: 0,
            dropped: 0,
            refused: confined.then(Vec::new),
            subscriber,
            redactor,
            agent: agent.to_string(),
            wp: wp.to_string(),
            failed: None,
        }
    }

    /// One line of text: `prefix` names what it is (`message`, `stderr`, `tool`).
    pub(super) fn line(&mut self, prefix: &str, text: &str) {
        self.write(prefix, text, None);
    }

    /// A typed activity, with its one-line description.
    pub(super) fn activity(&mut self, activity: Activity) {
        let text = activity.describe();
        self.write("tool", &text, Some(activity));
    }

    fn write(&mut self, prefix: &str, text: &str, activity: Option<Activity>) {
        self.lines += 1;
        let line = self.redactor.apply(text);
        if let Err(err) = writeln!(self.log, "[{prefix}] {line}")
            && self.failed.is_none()
        {
            self.failed = Some(err);
        }
        // Streamed text is flushed with the next line that is not (so a flood costs no
        // syscalls per chunk); everything else at once, for whoever follows the log.
        if !matches!(prefix, "message" | "thought" | "stdout") {
            self.flush();
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(clip(&line, 2000));
        if let Some(refused) = &mut self.refused
            && refused.len() < MAX_REFUSED_LINES
            && let Some(found) = refusal_in(&line)
            && !refused.contains(&found)
        {
            refused.push(found);
        }
        if let Some(tx) = &self.subscriber {
            let activity = activity.map(|a| a.redacted(&self.redactor));
            let stream = if prefix == "stderr" { Stream::Stderr } else { Stream::Stdout };
            let event = OutputLine { agent: self.agent.clone(), wp: self.wp.clone(), stream, line, activity };
            if tx.try_send(event).is_err() {
                self.dropped += 1;
            }
        }
    }

    /// A note of ours (not the agent's), in the log only.
    pub(super) fn note(&mut self, text: &str) {
        if let Err(err) = writeln!(self.log, "# {}", self.redactor.apply(text))
            && self.failed.is_none()
        {
            self.failed = Some(err);
        }
    }

    pub(super) fn flush(&mut self) {
        if let Err(err) = self.log.flush()
            && self.failed.is_none()
        {
            self.failed = Some(err);
        }
    }
}
