//! The attempt's transcript: every assistant message, tool call and tool result, redacted, into
//! the attempt log and (line by line) to subscribers as output lines — what a CLI agent's stdout
//! is for the others.

use std::collections::VecDeque;
use std::io::{BufWriter, Write};

use tokio::sync::mpsc;

use crate::executor::{OutputLine, Stream};
use crate::redact::Redactor;

/// Longest line written to the log or given to subscribers.
const MAX_LOG_LINE: usize = 4000;
/// Lines kept for the outcome's tail.
const TAIL: usize = 40;

pub(super) use crate::executor::clip;

/// Where the transcript goes.
pub(super) struct Transcript {
    pub(super) log: BufWriter<std::fs::File>,
    pub(super) redactor: Redactor,
    pub(super) subscriber: Option<mpsc::Sender<OutputLine>>,
    pub(super) agent: String,
    pub(super) wp: String,
    pub(super) lines: u64,
    pub(super) dropped: u64,
    pub(super) tail: VecDeque<String>,
}

impl Transcript {
    /// Writes `text` under a label (`assistant`, `tool_call read_file`, …), one output line per
    /// line of text; a write error is returned (the log is the record of the attempt).
    pub(super) fn say(&mut self, label: &str, text: &str) -> std::io::Result<()> {
        let text = self.redactor.apply(text);
        let mut first = true;
        for raw in text.lines().chain(text.is_empty().then_some("")) {
            let line = if first { format!("[{label}] {raw}") } else { format!("  {raw}") };
            first = false;
            let line = clip(&line, MAX_LOG_LINE);
            writeln!(self.log, "{line}")?;
            self.lines += 1;
            if self.tail.len() == TAIL {
                self.tail.pop_front();
            }
            self.tail.push_back(clip(&line, 2000));
            if let Some(tx) = &self.subscriber {
                let event = OutputLine {
                    agent: self.agent.clone(),
                    wp: self.wp.clone(),
                    stream: Stream::Stdout,
                    line,
                    activity: None,
                };
                if tx.try_send(event).is_err() {
                    self.dropped += 1;
                }
            }
        }
        self.log.flush()
    }

    /// A `# …` note in the log only.
    pub(super) fn note(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.log, "# {}", self.redactor.apply(text))?;
        self.log.flush()
    }
}
