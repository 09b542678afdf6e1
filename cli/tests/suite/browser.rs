//! The pictures in a real browser (headless Chromium through chromedriver): the HTML report of a
//! finished run, whose hostile title must render as text and which runs no script and fetches
//! nothing; and the live board during a run made by another process, which must redraw itself
//! as the run moves and show a WP's history when it is clicked.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use kitty_test_support::webdriver::Browser;

use crate::common::{bin, repo};

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
    let seen = browser.eval(
        "return {scripts: document.scripts.length, images: document.images.length, pwned: window.pwned === undefined ? null : window.pwned,
                 nodes: document.querySelectorAll('g[data-wp]').length, bars: document.querySelectorAll('rect[fill-opacity]').length,
                 text: document.body.innerText.includes('<script>window.pwned=1</script>'), title: document.title}",
    );
    assert_eq!(seen["scripts"], 0, "{seen}");
    assert_eq!(seen["images"], 0, "{seen}");
    assert_eq!(seen["pwned"], serde_json::Value::Null, "{seen}");
    assert_eq!(seen["nodes"], 3, "{seen}");
    assert!(seen["bars"].as_u64().unwrap() >= 6, "{seen}");
    assert_eq!(seen["text"], true, "the hostile title shows as text: {seen}");
    assert_eq!(seen["title"], "140-browser: complete");
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
    let run = bin().args(["run", "141-browser"]).current_dir(dir).stdout(Stdio::null()).spawn().unwrap();
    // The page redraws itself from the board's events: no reload by the test.
    let redrawn = browser.wait_for(
        "return document.querySelector('h1').textContent === '141-browser: complete'",
        Duration::from_secs(90),
    );
    let status = run.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(0));
    assert!(redrawn, "the board did not follow the run: {}", browser.eval("return document.body.innerText"));
    assert!(browser.eval("return document.querySelectorAll('rect[fill-opacity]').length").as_u64().unwrap() >= 6);

    browser.click("tr[data-wp='WP02']");
    let shown = browser.wait_for(
        "return document.getElementById('detail').innerText.includes('WP02: planned -> doing')",
        Duration::from_secs(30),
    );
    assert!(shown, "{}", browser.eval("return document.getElementById('detail').innerText"));
    assert_eq!(browser.eval("return document.getElementById('detail').innerText.includes('agent log')"), true);
    let _ = board.kill();
    let _ = board.wait();
}
