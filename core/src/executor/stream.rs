//! Reading an agent's output line by line with bounded memory: a line longer than the limit is
//! handed on in pieces (never dropped), each saying whether it ends the line, so that the log can
//! cut long lines while the result parser still sees a long final result whole. Invalid UTF-8 is
//! kept lossily.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest piece handed on; longer lines come in pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// A line, or a piece of a line longer than [`MAX_LINE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The text (without the line end).
    pub text: String,
    /// Whether this piece ends its line (`false`: more of the same line follows).
    pub ends_line: bool,
}

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Wraps a stream.
    pub fn new(inner: R) -> Self {
        LineReader { inner, buf: Vec::with_capacity(16 * 1024), start: 0, eof: false }
    }

    /// The next line (or piece of a long line) without its `\n` (and `\r`), or `None` at end
    /// of stream.
    pub async fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        loop {
            let pending = &self.buf[self.start..];
            if let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let text = take(&pending[..pos]);
                self.start += pos + 1;
                return Ok(Some(Piece { text, ends_line: true }));
            }
            if pending.len() > MAX_LINE {
                // Cut at a UTF-8 boundary when one is near, so a long line stays readable.
                let mut cut = MAX_LINE;
                while cut > MAX_LINE - 4 && (pending[cut] & 0b1100_0000) == 0b1000_0000 {
                    cut -= 1;
                }
                let text = String::from_utf8_lossy(&pending[..cut]).into_owned();
                self.start += cut;
                return Ok(Some(Piece { text, ends_line: false }));
            }
            if self.eof {
                if pending.is_empty() {
                    return Ok(None);
                }
                let text = take(pending);
                self.start = self.buf.len();
                return Ok(Some(Piece { text, ends_line: true }));
            }
            // Compact, then read more.
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let len = self.buf.len();
            self.buf.resize(len + 16 * 1024, 0);
            let n = self.inner.read(&mut self.buf[len..]).await?;
            self.buf.truncate(len + n);
            if n == 0 {
                self.eof = true;
            }
        }
    }
}

fn take(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pieces(input: &[u8]) -> Vec<Piece> {
        let mut reader = LineReader::new(input);
        let mut out = Vec::new();
        while let Some(piece) = reader.next_piece().await.unwrap() {
            out.push(piece);
        }
        out
    }

    async fn lines(input: &[u8]) -> Vec<String> {
        pieces(input).await.into_iter().map(|p| p.text).collect()
    }

    #[tokio::test]
    async fn splits_lines_and_keeps_the_last_partial_one() {
        assert_eq!(lines(b"a\r\nb\n\nc").await, ["a", "b", "", "c"]);
    }

    #[tokio::test]
    async fn long_lines_are_split_not_dropped() {
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let out = pieces(&long).await;
        assert_eq!(out.len(), 3);
        assert_eq!(out.iter().map(|p| p.text.len()).sum::<usize>(), MAX_LINE * 2 + 10);
        assert_eq!(out.iter().map(|p| p.ends_line).collect::<Vec<_>>(), [false, false, true]);
    }

    #[tokio::test]
    async fn invalid_utf8_is_kept_lossily() {
        assert_eq!(lines(b"caf\xe9\n").await, ["caf\u{fffd}"]);
    }
}
