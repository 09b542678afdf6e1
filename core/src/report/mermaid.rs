//! The dependency graph as a Mermaid `flowchart`, which GitHub and GitLab draw inside markdown:
//! one node per WP (id and short title, coloured by lane), an arrow per dependency. Beyond
//! [`MAX_NODES`] WPs one node per dependency layer (or band of layers, for a graph deeper than
//! that) stands for all of its WPs, with their lane counts, so the picture stays readable; the
//! table below it still lists every WP.
//!
//! Labels are agent- and file-written text: every character that could end a label, start an
//! entity, or close the code block is written as a Mermaid entity code.

use std::fmt::Write;

use super::graph::{LaneClass, layers};
use super::model::FeatureReport;

/// Most WPs drawn one node each.
pub const MAX_NODES: usize = 60;

/// Longest title shown in a node.
const TITLE_CHARS: usize = 40;

/// `text` safe inside a quoted Mermaid label.
fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().take(TITLE_CHARS) {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '&' => out.push_str("#amp;"),
            c if c.is_control() => out.push(' '),
            c if crate::display::is_unsafe(c) => {}
            c => out.push(c),
        }
    }
    if text.chars().count() > TITLE_CHARS {
        out.push('…');
    }
    out
}

/// A node id Mermaid accepts whatever the WP id holds (ids are `WP01`-like, but a node id must
/// never carry markup).
fn node(index: usize) -> String {
    format!("n{index}")
}

/// The ```` ```mermaid ```` block of `report`'s graph (empty for a feature with no WP).
pub fn mermaid(report: &FeatureReport) -> String {
    if report.wps.is_empty() {
        return String::new();
    }
    let mut out = String::from("```mermaid\nflowchart LR\n");
    if report.wps.len() > MAX_NODES {
        by_layer(report, &mut out);
    } else {
        by_wp(report, &mut out);
    }
    for class in [LaneClass::Done, LaneClass::Planned, LaneClass::Doing, LaneClass::Blocked] {
        let (fill, stroke) = class.colours();
        let _ = writeln!(out, "  classDef {} fill:{fill},stroke:{stroke},color:#1b1f24", class.name());
    }
    out.push_str("```\n");
    out
}

fn by_wp(report: &FeatureReport, out: &mut String) {
    let index: std::collections::HashMap<&str, usize> =
        report.wps.iter().enumerate().map(|(i, w)| (w.facts.id.as_str(), i)).collect();
    for (i, wp) in report.wps.iter().enumerate() {
        let class = LaneClass::of(wp.facts.lane).name();
        let _ = writeln!(out, "  {}[\"{} · {}\"]:::{class}", node(i), label(&wp.facts.id), label(&wp.facts.title));
    }
    for (i, wp) in report.wps.iter().enumerate() {
        for dep in wp.depends_on.iter().filter_map(|d| index.get(d.as_str())) {
            let _ = writeln!(out, "  {} --> {}", node(*dep), node(i));
        }
    }
}

/// One node per dependency layer — or, for a graph deeper than [`MAX_NODES`] layers, per band
/// of consecutive layers — labelled "layers 3–4 · 42 WPs · 40 done · 2 blocked" and coloured by
/// its most urgent lane (blocked, then doing, then planned).
fn by_layer(report: &FeatureReport, out: &mut String) {
    let layer_of = layers(report);
    let depth = layer_of.iter().max().map_or(0, |m| m + 1);
    let band = depth.div_ceil(MAX_NODES).max(1);
    let bands = depth.div_ceil(band);
    for b in 0..bands {
        let (first, last) = (b * band, ((b + 1) * band).min(depth) - 1);
        let members: Vec<LaneClass> = report
            .wps
            .iter()
            .zip(&layer_of)
            .filter(|(_, l)| (first..=last).contains(*l))
            .map(|(w, _)| LaneClass::of(w.facts.lane))
            .collect();
        let worst = members.iter().max().copied().unwrap_or(LaneClass::Done);
        let layers =
            if first == last { format!("layer {}", first + 1) } else { format!("layers {}–{}", first + 1, last + 1) };
        let mut text = format!("{layers} · {} WPs", members.len());
        for class in [LaneClass::Done, LaneClass::Doing, LaneClass::Planned, LaneClass::Blocked] {
            let n = members.iter().filter(|c| **c == class).count();
            if n > 0 {
                let _ = write!(text, " · {n} {}", class.name());
            }
        }
        let _ = writeln!(out, "  l{b}[\"{text}\"]:::{}", worst.name());
        if b > 0 {
            let _ = writeln!(out, "  l{} --> l{b}", b - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_titles_cannot_end_a_label_or_the_block() {
        for hostile in ["x\"] --> evil[\"<script>alert(1)</script>", "```\n# heading &amp; `code`", "a\u{202e}b\rc"] {
            let text = label(hostile);
            for bad in ['"', '<', '>', '`', '\n', '\r', '\u{202e}'] {
                assert!(!text.contains(bad), "{hostile:?} gave {text:?}");
            }
        }
        assert_eq!(label("x\"] --> evil"), "x#quot;] --#gt; evil");
    }
}
