//! Where in the configuration's text an error is, and how its messages spell names.

/// `"a", "b", "c"`: the accepted values of a key, for error messages.
pub(super) fn quoted_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// serde names unknown fields as "unknown field `x`": lift that into the error's key.
pub(super) fn key_in_message(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}
