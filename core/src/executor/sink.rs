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
        if let Some(tx) = self.subscriber {
            let event = OutputLine { agent: self.run.command.agent.clone(), wp: self.run.wp.clone(), stream, line };
            if tx.try_send(event).is_err() {
                self.dropped += 1;
            }
        }
        Ok(())
    }
}
