//! Text from agents, state, task files and pull-request comments, made safe to show: whatever
//! they hold, it can neither drive a terminal (escape sequences, carriage returns, bells) nor
//! hide or reorder what it says (bidirectional overrides and isolates, zero-width and other
//! invisible characters — the "Trojan Source" family). One definition for every surface: the
//! CLI's lines and progress, the report and pull-request bodies.

/// Whether `c` must not reach a reader as it is: a control character, or a character that
/// changes how the text around it is ordered or shown while showing nothing itself.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Soft hyphen, Arabic letter mark, Mongolian vowel separator.
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            // Zero-width space/joiners, left-to-right/right-to-left marks.
            | '\u{200B}'..='\u{200F}'
            // Line and paragraph separators, bidirectional embeddings and overrides.
            | '\u{2028}'..='\u{202E}'
            // Word joiner, invisible operators, bidirectional isolates, deprecated format controls.
            | '\u{2060}'..='\u{206F}'
            // Byte order mark / zero-width no-break space, interlinear annotations.
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
            // Tag characters (invisible text).
            | '\u{E0000}'..='\u{E007F}'
        )
}

/// `text` with every unsafe character (see [`is_unsafe`]) replaced by `replacement`; newlines
/// and tabs become spaces (one line).
pub fn one_line(text: &str, replacement: char) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => ' ',
            c if is_unsafe(c) => replacement,
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bidi_and_invisible_characters_are_replaced() {
        let text = "ok\u{1b}[2J \u{202E}evil\u{202C} \u{2066}x\u{2069} a\u{200B}b\u{E0041} c\u{2028}d\re";
        let shown = one_line(text, '?');
        assert!(shown.chars().all(|c| !is_unsafe(c)), "{shown:?}");
        assert_eq!(shown, "ok?[2J ?evil? ?x? a?b? c?d?e");
        assert_eq!(one_line("WP01 — ünïcödé 日本", '?'), "WP01 — ünïcödé 日本");
    }
}
