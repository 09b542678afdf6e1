//! The report as markdown: what a person reads, and the body of the pull request. Every piece
//! of text that came from an agent or a file is one cleaned line with markdown's table and code
//! characters escaped, so it cannot break the layout or inject markup.

use std::fmt::Write;

use super::model::{FeatureReport, ReportOutcome};

/// Text safe inside a markdown table cell or list item.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c if crate::display::is_unsafe(c) => {}
            c => out.push(c),
        }
    }
    out
}

fn short(id: &str) -> String {
    id.chars().take(10).collect()
}

/// The report in markdown.
pub fn markdown(report: &FeatureReport) -> String {
    let mut md = String::new();
    let outcome = match report.outcome {
        ReportOutcome::Complete => "complete",
        ReportOutcome::Partial => "partial",
        ReportOutcome::Failed => "failed",
    };
    let _ = writeln!(md, "# {}: {outcome}\n", cell(&report.feature));
    let _ = write!(md, "{}/{} work packages done", report.done, report.total);
    if let Some(landing) = &report.landing {
        let _ =
            write!(md, " · landed on `{}` at `{}` ({})", cell(&landing.into), short(&landing.commit), landing.strategy);
    }
    if let Some(verify) = &report.verify {
        let state = if verify.passed { "passed" } else { "FAILED" };
        let _ = write!(md, " · verification {state} after {} fix round(s)", verify.fix_rounds);
    }
    let _ = writeln!(md, " · {:.1} s of agent time · ${:.4}\n", report.agent_ms as f64 / 1000.0, report.cost_usd);
    let graph = super::mermaid::mermaid(report);
    if !graph.is_empty() {
        md.push_str(&graph);
        md.push('\n');
    }
    let _ = writeln!(md, "| WP | title | lane | agents | attempts | reviews | time | cost | commits | landed |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for wp in &report.wps {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.1} s | {} | {} | {} |",
            wp.facts.id,
            cell(&wp.facts.title),
            wp.facts.lane,
            cell(&wp.facts.agents.join(", ")),
            wp.facts.attempts,
            wp.facts.review_cycles,
            wp.facts.agent_ms as f64 / 1000.0,
            if wp.facts.cost_usd > 0.0 { format!("${:.4}", wp.facts.cost_usd) } else { "-".into() },
            wp.commits.len(),
            wp.landed.as_deref().map_or_else(|| "-".to_string(), |c| format!("`{}`", short(c))),
        );
    }
    let blocked: Vec<_> = report.wps.iter().filter(|w| w.facts.reason.is_some()).collect();
    if !blocked.is_empty() {
        let _ = writeln!(md, "\n## Needs a person\n");
        for wp in blocked {
            let _ = writeln!(
                md,
                "- {} ({}): {}",
                wp.facts.id,
                wp.facts.lane,
                cell(wp.facts.reason.as_deref().unwrap_or_default())
            );
        }
    }
    if !report.resolutions.is_empty() {
        let _ = writeln!(md, "\n## Conflicts resolved\n");
        for r in &report.resolutions {
            let _ = writeln!(
                md,
                "- {} with {} in {}: resolved by {} (`{}`)",
                r.wp,
                cell(&r.with.join(" and ")),
                cell(&r.paths.join(", ")),
                cell(&r.agent),
                short(&r.commit)
            );
        }
    }
    if let Some(verify) = &report.verify {
        let _ = writeln!(md, "\n## Verification: `{}`\n", cell(&verify.command.join(" ")));
        for round in &verify.rounds {
            let fix = match (&round.fix_agent, &round.fix_commit) {
                (Some(agent), Some(commit)) => format!(" after a fix by {} (`{}`)", cell(agent), short(commit)),
                (Some(agent), None) => format!(" after {} changed nothing", cell(agent)),
                _ => String::new(),
            };
            let _ = writeln!(md, "- round {}{fix}: {}", round.round, if round.passed { "passed" } else { "failed" });
        }
    }
    let _ = writeln!(md, "\n## Commits\n");
    for wp in report.wps.iter().filter(|w| !w.commits.is_empty()) {
        let _ = writeln!(md, "### {}: {}\n", wp.facts.id, cell(&wp.facts.title));
        for c in &wp.commits {
            let _ = writeln!(md, "- `{}` {} ({})", short(&c.id), cell(&c.subject), cell(&c.author));
        }
        md.push('\n');
    }
    md.push_str("_Report by kitty-orchestrator._\n");
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_break_a_table_cell() {
        let text = cell("a | b `code` <script>\n# heading [link](x)");
        assert!(!text.contains(" | ") && !text.contains('\n'), "{text}");
        assert!(text.contains("\\|") && text.contains("\\<script\\>") && text.contains("\\`"), "{text}");
    }
}
