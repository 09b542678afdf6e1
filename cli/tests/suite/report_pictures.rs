//! The run as pictures: the dependency graph as Mermaid in the markdown report (and so the pull
//! request), and `report --format html` — one self-contained page with the graph, the timeline of
//! agent runs and the totals. Titles are hostile input: they must show as text in both.

use std::path::Path;

use crate::common::{bin, repo};
use kitty_test_support::git;

/// A title that tries to end a Mermaid label, open a script and close the code block.
const HOSTILE: &str = r#"x"] --> evil["<script>alert(1)</script> ``` #1 & <img src=http://e.example/x>"#;

fn retitle(dir: &Path, slug: &str, wp: &str, title: &str) {
    let tasks = dir.join("kitty-specs").join(slug).join("tasks");
    let file = std::fs::read_dir(&tasks)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(wp))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().find(|l| l.starts_with("title:")).unwrap().to_string();
    // A YAML single-quoted scalar: only `'` needs doubling.
    std::fs::write(&file, text.replace(&line, &format!("title: '{}'", title.replace('\'', "''")))).unwrap();
    git(dir, &["commit", "-qam", "hostile title"]);
}

fn report(dir: &Path, args: &[&str]) -> String {
    let out = bin().arg("report").args(args).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_report_draws_the_graph_and_the_timeline_and_hostile_titles_stay_text() {
    let tmp = repo("120-pictures", 3, "");
    let dir = tmp.path();
    retitle(dir, "120-pictures", "WP02", HOSTILE);
    let run = bin().args(["run", "120-pictures"]).current_dir(dir).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stdout));

    let md = report(dir, &["120-pictures"]);
    let graph = md.split("```mermaid\n").nth(1).expect("a mermaid block").split("```\n").next().unwrap();
    assert!(graph.starts_with("flowchart LR\n"), "{graph}");
    // WP03 depends on WP01 and WP02 (chained_wps): an arrow from each, every node done.
    assert!(graph.contains("n0 --> n2") && graph.contains("n1 --> n2"), "{graph}");
    assert_eq!(graph.matches(":::done").count(), 3, "{graph}");
    let hostile_line = graph.lines().find(|l| l.contains("WP02")).unwrap();
    assert!(hostile_line.starts_with("  n1[\"WP02 · x#quot;] --#gt; evil[#quot;#lt;script#gt;"), "{hostile_line}");
    assert_eq!(hostile_line.matches('"').count(), 2, "the label is one quoted string: {hostile_line}");
    assert!(!graph.contains('`') && !graph.contains("<script"), "{graph}");

    let file = dir.join("report.html");
    let out =
        bin().args(["report", "120-pictures", "--format", "html", "-o"]).arg(&file).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // Self-contained and inert: no script, nothing fetched, the hostile title as text.
    // (Escaped text may say `src=`; an attribute would be `src="`, and `"` in text is `&quot;`.)
    for forbidden in ["<script", "<img", "<link", "<iframe", "src=\"", "href=\"", "@import", "url("] {
        assert!(!html.contains(forbidden), "{forbidden} in the page");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("default-src 'none'"), "a content security policy forbids fetching");
    // The graph: a node per WP, an edge per dependency; the timeline: an implementation and a
    // review run per WP, each a bar naming its agent.
    assert_eq!(html.matches("<g data-wp=").count(), 3, "3 graph nodes");
    assert_eq!(html.matches("class=\"edge\"").count(), 3, "edges WP01→WP02, WP01→WP03, WP02→WP03");
    let bars = html.matches("class=\"run ").count();
    assert!(bars >= 6, "{bars} bars");
    assert!(html.contains("WP01 implementation #1 by impl: succeeded in "), "{html}");
    assert!(html.contains(" by rev: approved in "), "{html}");
    assert!(html.contains("<h2>Agents</h2>"));
    // Same page on standard output with --format html; json and markdown still as before.
    assert_eq!(report(dir, &["120-pictures", "--format", "html"]), html);
    let json: serde_json::Value = serde_json::from_str(&report(dir, &["120-pictures", "--format", "json"])).unwrap();
    assert_eq!(json["wps"][2]["depends_on"], serde_json::json!(["WP01", "WP02"]));
    assert_eq!(json["wps"][0]["runs"][1]["outcome"], "approved");
    // --format html means nothing to another command.
    let status = bin().args(["--format", "html", "status", "120-pictures"]).current_dir(dir).output().unwrap();
    assert_eq!(status.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&status.stderr).contains("`report`"));
}

#[test]
fn a_large_feature_collapses_its_mermaid_graph_by_layer_and_its_page_still_draws_every_wp() {
    let tmp = repo("121-large", 1000, "");
    let dir = tmp.path();
    let md = report(dir, &["121-large"]);
    let graph = md.split("```mermaid\n").nth(1).expect("a mermaid block").split("```\n").next().unwrap();
    // chained_wps(1000) is 667 layers deep: bands of 12 layers, at most 60 nodes.
    assert!(graph.contains("l0[\"layers 1–12 · ") && graph.contains("l0 --> l1"), "{graph}");
    assert!(!graph.contains("n999"), "one node per layer, not per WP");
    assert!(graph.lines().count() < 130, "{} lines", graph.lines().count());
    // The table below still lists every WP.
    assert!(md.contains("| WP1000 |"));
    let html = report(dir, &["121-large", "--format", "html"]);
    assert_eq!(html.matches("<g data-wp=").count(), 1000, "a node per WP");
    assert!(html.contains("No agent has run yet."));
}
