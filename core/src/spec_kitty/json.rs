//! JSON written byte for byte the way spec-kitty's Python writes it, so `git diff` of its files
//! shows only our lines and its drift check agrees with us.
//!
//! Event lines are `json.dumps(obj, sort_keys=True)`: `", "` and `": "` separators and every
//! non-ASCII character escaped (`ensure_ascii`). `status.json` is
//! `json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"`. Keys are sorted
//! by their UTF-8 bytes here, which is Python's code-point order (`serde_json` keeps insertion
//! order in this workspace, so every object is re-sorted before writing).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value as Json;
use serde_json::ser::{CharEscape, Formatter, PrettyFormatter, Serializer};

/// `json.dumps(value, sort_keys=True)`: one line, no trailing newline.
pub fn event_line(value: &Json) -> String {
    let value = &sorted(value);
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PythonLine);
    value.serialize(&mut ser).expect("writing JSON to memory cannot fail");
    String::from_utf8(out).expect("ensure_ascii output is ASCII")
}

/// `json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"`.
pub fn pretty_document(value: &Json) -> String {
    let value = &sorted(value);
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PrettyFormatter::with_indent(b"  "));
    value.serialize(&mut ser).expect("writing JSON to memory cannot fail");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// `value` with the keys of every object in sorted order.
fn sorted(value: &Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
        }
        Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Python's default separators with `ensure_ascii=True`.
struct PythonLine;

impl Formatter for PythonLine {
    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(&mut self, writer: &mut W, escape: CharEscape) -> io::Result<()> {
        // Python writes the same short escapes as serde_json, and `\u00XX` in lower case.
        let bytes: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(writer, "\\u{byte:04x}"),
        };
        writer.write_all(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_match_python_json_dumps() {
        // Expected strings printed by CPython 3.11 `json.dumps(v, sort_keys=True)`.
        let v = json!({"b": [1, 2, {"z": null, "a": true}], "a": "é \u{1F600} \"q\" \\ \n\t\u{1}/", "c": {}, "d": []});
        assert_eq!(
            event_line(&v),
            r#"{"a": "\u00e9 \ud83d\ude00 \"q\" \\ \n\t\u0001/", "b": [1, 2, {"a": true, "z": null}], "c": {}, "d": []}"#
        );
    }

    #[test]
    fn documents_match_python_indent_2() {
        let v = json!({"w": {"b": 1, "a": []}, "e": {}, "s": "é"});
        assert_eq!(
            pretty_document(&v),
            "{\n  \"e\": {},\n  \"s\": \"é\",\n  \"w\": {\n    \"a\": [],\n    \"b\": 1\n  }\n}\n"
        );
    }
}
