//! Node's shape of the engine's data: the same values as Rust, Python and the CLI's `--json`,
//! with camelCase keys (`run_id` → `runId`) on every object, at every depth. The values of the
//! `type` tags (`'lane_changed'`) and ids used as keys (`WP01`) do not change. Options come the
//! other way: camelCase keys are turned into the core's snake_case ones, and an error about one
//! names it as the caller wrote it.

use serde_json::{Map, Value};

/// `run_id` → `runId`.
pub fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `implAgents` → `impl_agents`.
pub fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A core value as Node sees it: serialized, every object key camelCased.
pub fn to_js_value(value: &impl serde::Serialize) -> Value {
    camelize(serde_json::to_value(value).expect("core types serialize"))
}

/// A core value as Node sees it, as JSON text for `JSON.parse`: the same value as
/// [`to_js_value`], written in one pass. Building a board of 1000 WPs as objects through N-API,
/// one property at a time, cost twice the core read; V8 parses the text far faster.
pub fn to_js_json(value: &impl serde::Serialize) -> String {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, CamelKeys::default());
    value.serialize(&mut serializer).expect("core types serialize");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A JSON formatter that writes every object key through [`camel`] (keys arrive in fragments
/// between escapes, so the conversion keeps its state across them).
#[derive(Default)]
struct CamelKeys {
    in_key: bool,
    /// Something of the current key has been written (a leading `_` is kept).
    started: bool,
    /// The next character is upper-cased (it followed a `_`).
    upper: bool,
}

impl serde_json::ser::Formatter for CamelKeys {
    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        (self.in_key, self.started, self.upper) = (true, false, false);
        if first { Ok(()) } else { writer.write_all(b",") }
    }

    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, _writer: &mut W) -> std::io::Result<()> {
        self.in_key = false;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if !self.in_key {
            return writer.write_all(fragment.as_bytes());
        }
        // Written in runs between the underscores: ~33 000 keys in a board of 1000 WPs, each
        // copied into a string of its own first, cost three times the rest of the writing.
        let bytes = fragment.as_bytes();
        let mut run = 0;
        for (at, c) in fragment.char_indices() {
            if c == '_' && self.started {
                writer.write_all(&bytes[run..at])?;
                run = at + 1;
                self.upper = true;
            } else if self.upper {
                let mut buf = [0; 4];
                for upper in c.to_uppercase() {
                    writer.write_all(upper.encode_utf8(&mut buf).as_bytes())?;
                }
                run = at + c.len_utf8();
                (self.upper, self.started) = (false, true);
            } else {
                self.started = true;
            }
        }
        writer.write_all(&bytes[run..])
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape;
        if self.in_key {
            // An escaped character counts as written (upper-casing leaves it as it is).
            (self.upper, self.started) = (false, true);
        }
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"\\/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = [b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]];
                return writer.write_all(&code);
            }
        };
        writer.write_all(text)
    }
}

/// Every object key of `value`, at every depth, camelCased.
pub fn camelize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (camel(&k), camelize(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(camelize).collect()),
        other => other,
    }
}

/// The top-level keys of an options object in snake_case, as the core reads them.
pub fn snake_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (snake(&k), v)).collect::<Map<_, _>>()),
        other => other,
    }
}

/// An error message about snake_case option names, with the names as Node callers write them.
pub fn camel_message(message: &str, names: &[&str]) -> String {
    let mut out = message.to_string();
    for name in names {
        out = out.replace(&format!("`{name}`"), &format!("`{}`", camel(name)));
    }
    // Any other snake_case key quoted in it — the unknown one a user mistyped — as it was written.
    let parts: Vec<&str> = out.split('`').collect();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let key = i % 2 == 1
                && part.contains('_')
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if key { camel(part) } else { part.to_string() }
        })
        .collect::<Vec<_>>()
        .join("`")
}
