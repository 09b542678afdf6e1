//! The report as one self-contained HTML page (`report --format html`): the dependency graph laid
//! out by layer (SVG), each WP's agent runs as bars on one timeline, the totals (wall time,
//! agent time, cost per agent), the WPs that need a person and why, and where the work landed.
//!
//! Nothing is fetched when the page is viewed: styles are inline and there is no script at all.
//! Every piece of text is escaped ([`esc`]) — titles, reasons, agent names and commit subjects
//! are hostile input and must show as text.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::graph::{LaneClass, layers};
use super::model::{FeatureReport, ReportAttempt, ReportOutcome};

/// Graph geometry (px).
const NODE_W: usize = 180;
const NODE_H: usize = 34;
const COL_GAP: usize = 60;
const ROW_GAP: usize = 12;
/// Timeline geometry (px).
const LABEL_W: usize = 220;
const TRACK_W: usize = 900;
const ROW_H: usize = 22;

/// `text` safe as HTML text or a quoted attribute value.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
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

fn seconds(ms: u64) -> String {
    let s = ms as f64 / 1000.0;
    if s >= 120.0 { format!("{:.1} min", s / 60.0) } else { format!("{s:.1} s") }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\
.sum{color:#444}.scroll{overflow:auto;max-height:80vh;border:1px solid #d0d7de;border-radius:6px;padding:8px}\
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f6f8fa}.done{background:#d3f0d8}.planned{background:#eceff3}.doing{background:#fff1c2}\
.blocked{background:#ffd6d6}code{font:12px ui-monospace,monospace}svg text{font:12px system-ui,sans-serif}\
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:4px}";

/// The whole page.
pub fn html(report: &FeatureReport) -> String {
    page(report, None)
}

/// The page the live board serves: the same, plus one script (allowed by its `nonce` only) that
/// follows the board's server-sent events, redraws the page when the run moves, and shows a
/// WP's history and log tail (`wp/<id>`) when its node or row is clicked.
pub fn live_html(report: &FeatureReport, nonce: &str) -> String {
    page(report, Some(nonce))
}

/// What the live page runs: relative URLs (the board's token, if any, travels in the query).
const LIVE_SCRIPT: &str = "const q=location.search;\
const es=new EventSource('events'+q);\
es.addEventListener('change',async()=>{const r=await fetch(location.pathname+q,{cache:'no-store'});\
const d=new DOMParser().parseFromString(await r.text(),'text/html');\
document.getElementById('main').replaceWith(d.getElementById('main'));});\
document.addEventListener('click',async(e)=>{const t=e.target.closest('[data-wp]');if(!t)return;\
const r=await fetch('wp/'+encodeURIComponent(t.dataset.wp)+q,{cache:'no-store'});\
const box=document.getElementById('detail');box.innerHTML=await r.text();box.scrollIntoView();});";

fn page(report: &FeatureReport, live: Option<&str>) -> String {
    let mut out = String::with_capacity(4096 + report.wps.len() * 600);
    let outcome = match report.outcome {
        ReportOutcome::Complete => "complete",
        ReportOutcome::Partial => "partial",
        ReportOutcome::Failed => "failed",
    };
    let policy = match live {
        None => "default-src 'none'; style-src 'unsafe-inline'".to_string(),
        Some(nonce) => {
            format!("default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; connect-src 'self'")
        }
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\
         <title>{feature}: {outcome}</title><style>{STYLE}</style></head><body>\n<div id=\"main\">\n\
         <h1>{feature}: {outcome}</h1>\n",
        feature = esc(&report.feature),
    );
    summary(report, &mut out);
    let _ = writeln!(
        out,
        "<h2>Dependency graph</h2>\n<p class=\"legend\"><span class=\"done\">done</span><span class=\"doing\">doing / for review</span><span class=\"planned\">planned</span><span class=\"blocked\">blocked / canceled</span></p>"
    );
    graph(report, &mut out);
    out.push_str("<h2>Timeline</h2>\n<p class=\"sum\">Each bar is one agent run: green succeeded or approved, amber rejected by review, red failed; review runs are lighter.</p>\n");
    timeline(report, &mut out);
    needs_a_person(report, &mut out);
    per_agent(report, &mut out);
    table(report, &mut out);
    out.push_str("</div>\n");
    if let Some(nonce) = live {
        out.push_str("<h2>Selected work package</h2>\n<div id=\"detail\"><p class=\"sum\">Click a work package in the graph or the table to see its history and the tail of its log.</p></div>\n");
        let _ = writeln!(out, "<script nonce=\"{}\">{LIVE_SCRIPT}</script>", esc(nonce));
    }
    out.push_str("<p class=\"sum\">Report by kitty-orchestrator.</p>\n</body></html>\n");
    out
}

fn summary(report: &FeatureReport, out: &mut String) {
    let (start, end) = span(report);
    let wall = end.zip(start).map(|(e, s)| (e - s).max(0) as u64 / 1000).map_or_else(|| "-".into(), seconds);
    let _ = write!(
        out,
        "<p class=\"sum\">{}/{} work packages done · wall time {wall} · agent time {} · ${:.4}",
        report.done,
        report.total,
        seconds(report.agent_ms),
        report.cost_usd
    );
    if let Some(landing) = &report.landing {
        let _ = write!(
            out,
            " · landed on <code>{}</code> at <code>{}</code> ({})",
            esc(&landing.into),
            esc(&short(&landing.commit)),
            landing.strategy
        );
    }
    if let Some(verify) = &report.verify {
        let state = if verify.passed { "passed" } else { "FAILED" };
        let _ = write!(out, " · verification {state} after {} fix round(s)", verify.fix_rounds);
    }
    if let Some(pr) = &report.pull_request {
        // A link only to a web address; anything else the host said shows as text.
        let url = pr.url.trim();
        if (url.starts_with("https://") || url.starts_with("http://")) && !url.contains(char::is_whitespace) {
            let _ = write!(out, " · pull request <a href=\"{}\" rel=\"noreferrer\">#{}</a>", esc(url), pr.number);
        } else {
            let _ = write!(out, " · pull request #{} ({})", pr.number, esc(url));
        }
        let _ = write!(out, ": <code>{}</code> into <code>{}</code>", esc(&pr.head), esc(&pr.base));
    }
    out.push_str("</p>\n");
}

/// Microseconds since the epoch of an RFC 3339 time.
fn micros(at: &str) -> Option<i64> {
    at.parse::<jiff::Timestamp>().ok().map(|t| t.as_microsecond())
}

/// The first run's start and the last run's end (µs).
fn span(report: &FeatureReport) -> (Option<i64>, Option<i64>) {
    let runs = report.wps.iter().flat_map(|w| &w.runs);
    let bounds = runs.filter_map(|r| micros(&r.started_at).map(|s| (s, s + r.duration_ms as i64 * 1000)));
    bounds.fold((None, None), |(lo, hi): (Option<i64>, Option<i64>), (s, e)| {
        (Some(lo.map_or(s, |l| l.min(s))), Some(hi.map_or(e, |h| h.max(e))))
    })
}

fn graph(report: &FeatureReport, out: &mut String) {
    let layer_of = layers(report);
    let mut row_in_layer = vec![0usize; layer_of.iter().max().map_or(0, |m| m + 1)];
    let mut at = Vec::with_capacity(report.wps.len());
    for layer in &layer_of {
        at.push((*layer, row_in_layer[*layer]));
        row_in_layer[*layer] += 1;
    }
    let rows = row_in_layer.iter().max().copied().unwrap_or(0);
    let (width, height) = (row_in_layer.len() * (NODE_W + COL_GAP) + 10, rows * (NODE_H + ROW_GAP) + 30);
    let pos = |(layer, row): (usize, usize)| (5 + layer * (NODE_W + COL_GAP), 5 + row * (NODE_H + ROW_GAP));
    let index: std::collections::HashMap<&str, usize> =
        report.wps.iter().enumerate().map(|(i, w)| (w.facts.id.as_str(), i)).collect();
    let _ = writeln!(
        out,
        "<div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"dependency graph\">"
    );
    for (i, wp) in report.wps.iter().enumerate() {
        let (x2, y2) = pos(at[i]);
        for dep in wp.depends_on.iter().filter_map(|d| index.get(d.as_str())) {
            let (x1, y1) = pos(at[*dep]);
            let (sx, sy, ex, ey) = (x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2);
            // An edge that skips layers bows below the row so it does not run through the nodes
            // of the layers between.
            let path = if at[i].0 > at[*dep].0 + 1 {
                let bow = sy.max(ey) + NODE_H / 2 + ROW_GAP / 2 + 4;
                format!("M{sx},{sy} C{},{bow} {},{bow} {ex},{ey}", sx + COL_GAP, ex.saturating_sub(COL_GAP))
            } else {
                let mid = (sx + ex) / 2;
                format!("M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}")
            };
            let _ = writeln!(
                out,
                "<path class=\"edge\" d=\"{path}\" fill=\"none\" stroke=\"#8c959f\" stroke-width=\"1.2\"/>"
            );
        }
    }
    for (i, wp) in report.wps.iter().enumerate() {
        let (x, y) = pos(at[i]);
        let class = LaneClass::of(wp.facts.lane);
        let (fill, stroke) = class.colours();
        let title: String = if wp.facts.title.chars().count() > 20 {
            wp.facts.title.chars().take(19).chain(std::iter::once('…')).collect()
        } else {
            wp.facts.title.clone()
        };
        let _ = writeln!(
            out,
            "<g data-wp=\"{id}\" class=\"{class}\"><title>{id} · {full} ({lane})</title><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"5\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
             <text x=\"{tx}\" y=\"{ty}\"><tspan font-weight=\"bold\">{id}</tspan> {title}</text></g>",
            id = esc(&wp.facts.id),
            full = esc(&wp.facts.title),
            lane = wp.facts.lane,
            class = class.name(),
            title = esc(&title),
            tx = x + 8,
            ty = y + NODE_H / 2 + 4,
        );
    }
    out.push_str("</svg></div>\n");
}

/// Green, amber or red; lighter for a review.
fn bar_colour(run: &ReportAttempt) -> (&'static str, f32) {
    let colour = match run.outcome.as_str() {
        "succeeded" | "approved" => "#2e8b57",
        "rejected" => "#d49b00",
        _ => "#c62828",
    };
    (colour, if run.role == crate::role::Role::Review { 0.55 } else { 1.0 })
}

fn timeline(report: &FeatureReport, out: &mut String) {
    let (Some(start), Some(end)) = span(report) else {
        out.push_str("<p>No agent has run yet.</p>\n");
        return;
    };
    let total = (end - start).max(1) as f64;
    let height = report.wps.len() * ROW_H + 30;
    let width = LABEL_W + TRACK_W + 60;
    let _ = writeln!(
        out,
        "<div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"timeline\">"
    );
    for tick in 0..=4 {
        let x = LABEL_W + TRACK_W * tick / 4;
        let label = seconds((total * tick as f64 / 4.0 / 1000.0) as u64);
        let _ = writeln!(
            out,
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{}\" stroke=\"#eaeef2\"/><text x=\"{x}\" y=\"{}\" fill=\"#57606a\">{label}</text>",
            height - 18,
            height - 4
        );
    }
    for (row, wp) in report.wps.iter().enumerate() {
        let y = row * ROW_H;
        let title: String = wp.facts.title.chars().take(24).collect();
        let _ = writeln!(out, "<text x=\"4\" y=\"{}\">{} {}</text>", y + 15, esc(&wp.facts.id), esc(&title));
        for run in &wp.runs {
            let Some(s) = micros(&run.started_at) else { continue };
            let x = LABEL_W as f64 + (s - start) as f64 / total * TRACK_W as f64;
            let w = (run.duration_ms as f64 * 1000.0 / total * TRACK_W as f64).max(2.0);
            let (colour, opacity) = bar_colour(run);
            let cost = run.cost_usd.map(|c| format!(", ${c:.4}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "<rect class=\"run {}\" x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\" fill-opacity=\"{opacity}\"><title>{} {} #{} by {}: {} in {}{cost}</title></rect>",
                run.role,
                y + 3,
                ROW_H - 6,
                esc(&wp.facts.id),
                run.role,
                run.attempt,
                esc(&run.agent),
                esc(&run.outcome),
                seconds(run.duration_ms),
            );
        }
    }
    out.push_str("</svg></div>\n");
}

fn needs_a_person(report: &FeatureReport, out: &mut String) {
    let blocked: Vec<_> = report.wps.iter().filter(|w| w.facts.reason.is_some()).collect();
    if blocked.is_empty() {
        return;
    }
    out.push_str("<h2>Needs a person</h2>\n<ul>\n");
    for wp in blocked {
        let _ = writeln!(
            out,
            "<li><b>{}</b> ({}): {}</li>",
            esc(&wp.facts.id),
            wp.facts.lane,
            esc(wp.facts.reason.as_deref().unwrap_or_default())
        );
    }
    out.push_str("</ul>\n");
}

fn per_agent(report: &FeatureReport, out: &mut String) {
    let mut agents: BTreeMap<&str, (usize, u64, f64)> = BTreeMap::new();
    for run in report.wps.iter().flat_map(|w| &w.runs) {
        let entry = agents.entry(run.agent.as_str()).or_default();
        entry.0 += 1;
        entry.1 += run.duration_ms;
        entry.2 += run.cost_usd.unwrap_or(0.0);
    }
    if agents.is_empty() {
        return;
    }
    out.push_str("<h2>Agents</h2>\n<table><tr><th>agent</th><th>runs</th><th>time</th><th>cost</th></tr>\n");
    for (agent, (runs, ms, cost)) in agents {
        let _ =
            writeln!(out, "<tr><td>{}</td><td>{runs}</td><td>{}</td><td>${cost:.4}</td></tr>", esc(agent), seconds(ms));
    }
    out.push_str("</table>\n");
}

fn table(report: &FeatureReport, out: &mut String) {
    out.push_str(
        "<h2>Work packages</h2>\n<div class=\"scroll\"><table><tr><th>WP</th><th>title</th><th>lane</th><th>depends on</th>\
         <th>agents</th><th>attempts</th><th>reviews</th><th>time</th><th>cost</th><th>commits</th><th>landed</th></tr>\n",
    );
    for wp in &report.wps {
        let commits: String = wp
            .commits
            .iter()
            .map(|c| format!("<code>{}</code> {}", esc(&short(&c.id)), esc(&c.subject)))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            out,
            "<tr data-wp=\"{wpid}\"><td>{wpid}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{commits}</td><td>{}</td></tr>",
            esc(&wp.facts.title),
            LaneClass::of(wp.facts.lane).name(),
            wp.facts.lane,
            esc(&wp.depends_on.join(", ")),
            esc(&wp.facts.agents.join(", ")),
            wp.facts.attempts,
            wp.facts.review_cycles,
            seconds(wp.facts.agent_ms),
            if wp.facts.cost_usd > 0.0 { format!("${:.4}", wp.facts.cost_usd) } else { "-".into() },
            wp.landed.as_deref().map_or_else(|| "-".to_string(), |c| format!("<code>{}</code>", esc(&short(c)))),
            wpid = esc(&wp.facts.id),
        );
    }
    out.push_str("</table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\nb\u{202e}c"), "a bc");
    }
}
