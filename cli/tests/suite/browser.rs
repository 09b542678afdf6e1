//! The pictures in a real browser (headless Chromium through chromedriver): the HTML report of a
//! finished run, whose hostile title must render as text and which runs no script and fetches
//! nothing; and the live board during a run made by another process, which must redraw itself
//! as the run moves and show a WP's history when it is clicked.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use kitty_test_support::webdriver::{Browser, artifacts_dir};

use crate::common::{bin, repo};

/// Saves a screenshot among the test artifacts, and — with `KITTY_UPDATE_SCREENSHOTS=1` — as the
/// README's picture under `docs/images/`.
fn picture(browser: &Browser, name: &str, readme: bool) {
    let artifact = artifacts_dir().join(format!("{name}.png"));
    browser.screenshot(&artifact);
    assert!(std::fs::metadata(&artifact).unwrap().len() > 10_000, "{} is a real picture", artifact.display());
    if readme && std::env::var_os("KITTY_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/images");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&artifact, docs.join(format!("{name}.png"))).unwrap();
    }
}

/// Every resource the page loaded is the page itself or comes from loopback.
const ONLY_LOOPBACK: &str = "return performance.getEntriesByType('resource').every(e => /^(file:|http:\\/\\/127\\.0\\.0\\.1[:/])/.test(e.name))";

const HOSTILE: &str = "x\"] <script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> & `#1`";

#[test]
fn the_html_report_renders_in_a_browser_with_hostile_text_as_text() {
    let Some(browser) = Browser::start() else { return };
    let tmp = repo("140-browser", 3, "");
    let dir = tmp.path();
    let tasks = dir.join("kitty-specs/140-browser/tasks");
    let file = std::fs::read_dir(&tasks)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("WP02"));
    let file = file.unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().find(|l| l.starts_with("title:")).unwrap().to_string();
    std::fs::write(&file, text.replace(&line, &format!("title: '{}'", HOSTILE.replace('\'', "''")))).unwrap();
    kitty_test_support::git(dir, &["commit", "-qam", "hostile title"]);
    let run = bin().args(["run", "140-browser"]).current_dir(dir).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stdout));
    let page = dir.join("report.html");
    let out =
        bin().args(["report", "140-browser", "--format", "html", "-o"]).arg(&page).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0));

    browser.open(&format!("file://{}", page.display()));
    let json = bin().args(["report", "140-browser", "--json"]).current_dir(dir).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let runs: usize = report["wps"].as_array().unwrap().iter().map(|w| w["runs"].as_array().unwrap().len()).sum();
    let seen = browser.eval(
        "return {scripts: document.scripts.length, images: document.images.length, pwned: window.pwned === undefined ? null : window.pwned,
                 done: document.querySelectorAll('g[data-wp].done').length, nodes: document.querySelectorAll('g[data-wp]').length,
                 edges: document.querySelectorAll('path.edge').length, bars: document.querySelectorAll('rect.run').length,
                 reviews: document.querySelectorAll('rect.run.review').length,
                 text: document.body.innerText.includes('<script>window.pwned=1</script>'), title: document.title}",
    );
    assert_eq!(seen["scripts"], 0, "{seen}");
    assert_eq!(seen["images"], 0, "{seen}");
    assert_eq!(seen["pwned"], serde_json::Value::Null, "{seen}");
    assert_eq!(
        (seen["nodes"].clone(), seen["done"].clone()),
        (3.into(), 3.into()),
        "every WP a node, in its lane: {seen}"
    );
    assert_eq!(seen["edges"], 3, "{seen}");
    assert_eq!(seen["bars"], runs, "a bar per agent run: {seen}");
    assert!(seen["reviews"].as_u64().unwrap() >= 3, "{seen}");
    assert_eq!(seen["text"], true, "the hostile title shows as text: {seen}");
    assert_eq!(seen["title"], "140-browser: complete");
    assert_eq!(browser.eval(ONLY_LOOPBACK), true, "nothing fetched from elsewhere");
    picture(&browser, "report-hostile-title", false);
}

#[test]
fn the_live_board_redraws_as_another_process_runs_and_shows_a_clicked_wps_history() {
    let Some(browser) = Browser::start() else { return };
    let tmp = repo("141-browser", 3, "FAKE_SLEEP_MS = \"400\"");
    let dir = tmp.path();
    let mut board = bin()
        .args(["board", "141-browser"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(board.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line.split(": ").nth(1).unwrap().trim().to_string();

    browser.open(&url);
    assert_eq!(browser.eval("return document.scripts.length"), 1);
    assert_eq!(browser.eval("return document.querySelector('h1').textContent"), "141-browser: failed");
    assert_eq!(browser.eval("return document.querySelector(\"g[data-wp='WP01']\").getAttribute('class')"), "planned");
    let run = bin().args(["run", "141-browser"]).current_dir(dir).stdout(Stdio::null()).spawn().unwrap();
    // How long from WP01's ref moving to doing until the page shows it (no reload by the test).
    let wp01 = "refs/kitty/wp/141-browser/WP01";
    let started = Instant::now();
    let moved = loop {
        let subject = std::process::Command::new("git")
            .args(["log", "-1", "--format=%s", wp01])
            .current_dir(dir)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if subject.contains("planned -> doing") || subject.contains("-> for_review") || subject.contains("-> done") {
            break Instant::now();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "WP01 never started");
        std::thread::sleep(Duration::from_millis(5));
    };
    let shown = browser.wait_for(
        "return document.querySelector(\"g[data-wp='WP01']\").getAttribute('class') !== 'planned'",
        Duration::from_secs(10),
    );
    let latency = moved.elapsed();
    assert!(shown, "WP01 never left planned on the page");
    assert!(latency < Duration::from_secs(1), "the lane change took {latency:?} to reach the browser");
    eprintln!("board: WP01's ref moved, the browser showed it {latency:?} later");
    // The page redraws itself from the board's events until the end.
    let redrawn = browser.wait_for(
        "return document.querySelector('h1').textContent === '141-browser: complete'",
        Duration::from_secs(90),
    );
    let status = run.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(0));
    assert!(redrawn, "the board did not follow the run: {}", browser.eval("return document.body.innerText"));
    assert!(browser.eval("return document.querySelectorAll('rect[fill-opacity]').length").as_u64().unwrap() >= 6);

    assert_eq!(browser.eval(ONLY_LOOPBACK), true, "nothing fetched from elsewhere");
    browser.click("tr[data-wp='WP02']");
    let shown = browser.wait_for(
        "return document.getElementById('detail').innerText.includes('WP02: planned -> doing')",
        Duration::from_secs(30),
    );
    assert!(shown, "{}", browser.eval("return document.getElementById('detail').innerText"));
    assert_eq!(browser.eval("return document.getElementById('detail').innerText.includes('agent log')"), true);
    picture(&browser, "board-during-test", false);
    let _ = board.kill();
    let _ = board.wait();
}

/// The README's pictures: the demo's run (six WPs, one review rejected once) as the HTML report,
/// and on the live board with that WP's history open.
#[test]
fn the_readme_pictures_show_the_demo_run() {
    let Some(browser) = Browser::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let demo = bin().args(["demo", "--keep", "--dir"]).arg(&dir).output().unwrap();
    assert_eq!(demo.status.code(), Some(0), "{}", String::from_utf8_lossy(&demo.stderr));
    let page = tmp.path().join("report.html");
    let out = bin()
        .args(["report", "001-wordcount", "--format", "html", "-o"])
        .arg(&page)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    browser.open(&format!("file://{}", page.display()));
    assert_eq!(browser.eval("return document.querySelectorAll('g[data-wp].done').length"), 6);
    assert!(browser.eval("return document.querySelectorAll('rect.run').length").as_u64().unwrap() >= 13);
    picture(&browser, "report", true);

    let mut board = bin()
        .args(["board", "001-wordcount"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(board.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    browser.open(line.split(": ").nth(1).unwrap().trim());
    browser.click("tr[data-wp='WP03']");
    assert!(browser.wait_for(
        "return document.getElementById('detail').innerText.includes('for_review -> doing')",
        Duration::from_secs(30)
    ));
    picture(&browser, "board", true);
    let _ = board.kill();
    let _ = board.wait();
}

/// The markdown report's graph, checked by Mermaid itself (the newest `mermaid` from npm, run in
/// the browser): it parses as a flowchart, and rendered it has a node per WP (one per band of
/// layers for a large feature) and an arrow per dependency — including the hostile title's.
#[test]
fn mermaid_itself_parses_and_draws_the_reports_graph() {
    let Some(browser) = Browser::start() else { return };
    let mermaid = match kitty_test_support::real_clis::npm_package("mermaid", "latest") {
        Ok(dir) => dir.join("dist/mermaid.min.js"),
        Err(skip) => {
            eprintln!("skipped: mermaid from npm: {skip}");
            return;
        }
    };
    let graph_of = |dir: &Path, slug: &str| -> String {
        let md = bin().args(["report", slug]).current_dir(dir).output().unwrap();
        let md = String::from_utf8(md.stdout).unwrap();
        md.split("```mermaid\n").nth(1).unwrap().split("```\n").next().unwrap().to_string()
    };
    let small = repo("142-mermaid", 4, "");
    let tasks = small.path().join("kitty-specs/142-mermaid/tasks");
    let file = std::fs::read_dir(&tasks)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("WP02"));
    let file = file.unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().find(|l| l.starts_with("title:")).unwrap().to_string();
    std::fs::write(&file, text.replace(&line, &format!("title: '{}'", HOSTILE.replace('\'', "''")))).unwrap();
    kitty_test_support::git(small.path(), &["commit", "-qam", "hostile title"]);
    let large = repo("143-mermaid", 1000, "");
    let cases =
        [(graph_of(small.path(), "142-mermaid"), 4usize, 3usize), (graph_of(large.path(), "143-mermaid"), 56, 55)];

    let page = tempfile::tempdir().unwrap();
    let html = page.path().join("mermaid.html");
    std::fs::write(
        &html,
        format!("<!DOCTYPE html><html><body><script src=\"file://{}\"></script></body></html>", mermaid.display()),
    )
    .unwrap();
    browser.open(&format!("file://{}", html.display()));
    for (n, (graph, nodes, edges)) in cases.into_iter().enumerate() {
        let script = format!(
            "mermaid.initialize({{startOnLoad: false, securityLevel: 'strict'}});
             mermaid.parse({graph}).then(async (parsed) => {{
               const {{svg}} = await mermaid.render('g{n}', {graph});
               const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
               done({{type: parsed.diagramType, nodes: doc.querySelectorAll('g.node').length,
                      edges: doc.querySelectorAll('path.flowchart-link').length,
                      scripts: doc.querySelectorAll('script').length, svg: svg.length}});
             }}).catch((e) => done({{error: String(e)}}));",
            graph = serde_json::to_string(&graph).unwrap()
        );
        let seen = browser.eval_async(&script);
        assert!(seen.get("error").is_none(), "mermaid refused the graph: {seen}\n{graph}");
        assert_eq!(seen["type"], "flowchart-v2", "{seen}");
        assert_eq!(
            (seen["nodes"].as_u64(), seen["edges"].as_u64()),
            (Some(nodes as u64), Some(edges as u64)),
            "{seen}\n{graph}"
        );
        assert_eq!(seen["scripts"], 0, "{seen}");
    }
}
