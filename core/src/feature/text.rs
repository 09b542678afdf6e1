//! Reading a feature's files: text that may be absent (unreadable or non-UTF-8 is a problem
//! naming the line), and serde_json's messages without their position (the problem has it).

use std::path::Path;

use super::problem::{Problem, ProblemKind};

/// Reads a text file that may be absent: `None` if absent; unreadable or non-UTF-8 is a problem.
pub(super) fn read_text(path: &Path, problems: &mut Vec<Problem>) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(err) => {
                let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                problems.push(Problem::at_line(
                    ProblemKind::NotUtf8,
                    path,
                    Some(line),
                    None,
                    format!("not valid UTF-8 (at byte {}); save the file as UTF-8", valid.len()),
                ));
                None
            }
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => {
            problems.push(Problem::at(ProblemKind::Unreadable, path, format!("cannot read file: {err}")));
            None
        }
    }
}

/// serde_json's message without its trailing "at line L column C" (the problem carries those).
pub(super) fn json_reason(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
