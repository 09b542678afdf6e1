//! `board`: the report's page served live on loopback, moving with a run made by another
//! process, read-only, refusing strangers (another Host, no token off loopback).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, repo};

/// A `board` process, ended when dropped.
struct Served {
    child: Child,
    url: String,
    // Kept open: the board prints more than its first line.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path, args: &[&str]) -> Served {
    let mut child =
        bin().arg("board").args(args).current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let url = line.split(": ").nth(1).unwrap_or_else(|| panic!("no address in {line:?}")).trim().to_string();
    Served { child, url, _stdout: stdout }
}

/// `host:port` and the path (with the query) of a URL the board printed.
fn split(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    (host.to_string(), format!("/{path}"))
}

/// One HTTP/1.1 request; (status, body).
fn request(addr: &str, method: &str, path: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn get(url: &str, path: &str) -> (u16, String) {
    let (host, _) = split(url);
    request(&host, "GET", path, &host)
}

#[test]
fn the_board_follows_a_run_made_by_another_process_and_shows_a_wps_history() {
    let tmp = repo("130-board", 3, "FAKE_SLEEP_MS = \"300\"");
    let dir = tmp.path();
    let board = serve(dir, &["130-board"]);
    assert!(board.url.starts_with("http://127.0.0.1:"), "{}", board.url);
    let (status, page) = get(&board.url, "/");
    assert_eq!(status, 200, "{page}");
    let nonce = page.split("<script nonce=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
    assert!(nonce.len() >= 32, "a nonce of 128 bits: {nonce}");
    assert!(page.contains(&format!("script-src 'nonce-{nonce}'")), "only the page's own script runs");
    assert!(page.contains("data-wp=\"WP01\"") && page.contains("No agent has run yet."));

    // Follow the event stream while another process runs the feature.
    let (host, _) = split(&board.url);
    let mut events = TcpStream::connect(&host).unwrap();
    events.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(events, "GET /events HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut events = BufReader::new(events);
    let mut seen = String::new();
    while !seen.contains("event: hello") {
        events.read_line(&mut seen).unwrap();
    }
    let run = bin().args(["run", "130-board"]).current_dir(dir).stdout(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    let mut changes = 0;
    while changes < 3 && started.elapsed() < Duration::from_secs(60) {
        let mut line = String::new();
        events.read_line(&mut line).unwrap();
        if line.starts_with("event: change") {
            changes += 1;
        }
    }
    assert!(changes >= 3, "the page was told the run moved ({changes} changes)");
    let status = run.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(0));

    let (status, json) = get(&board.url, "/report.json");
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["outcome"], "complete", "{report:#}");
    let (status, wp) = get(&board.url, "/wp/WP02");
    assert_eq!(status, 200, "{wp}");
    assert!(wp.contains("WP02: planned -&gt; doing") && wp.contains("# kitty-orchestrator agent log"), "{wp}");
    let (status, page) = get(&board.url, "/");
    assert_eq!(status, 200);
    assert!(page.contains("implementation #1 by impl"), "the timeline has the runs now");
}

#[test]
fn the_board_is_read_only_and_answers_only_to_its_own_address() {
    let tmp = repo("131-board", 1, "");
    let dir = tmp.path();
    let board = serve(dir, &["131-board"]);
    let (host, _) = split(&board.url);
    // A page elsewhere reaching it through DNS rebinding names another host.
    assert_eq!(request(&host, "GET", "/", "evil.example").0, 421);
    assert_eq!(request(&host, "POST", "/", &host).0, 405);
    assert_eq!(request(&host, "GET", "/wp/..%2Fetc", &host).0, 404);
    assert_eq!(request(&host, "GET", "/wp/WP09", &host).0, 500, "an unknown WP is an error page");
    assert_eq!(request(&host, "GET", "/nothing", &host).0, 404);

    // Off loopback only with a token: one is generated, and a request without it is refused.
    let open = serve(dir, &["131-board", "--listen", "0.0.0.0:0"]);
    let (_, path) = split(&open.url);
    let token = path.split("token=").nth(1).unwrap().to_string();
    assert_eq!(token.len(), 32, "{}", open.url);
    let (host, _) = split(&open.url);
    assert_eq!(request(&host, "GET", "/", &host).0, 401);
    assert_eq!(request(&host, "GET", "/?token=wrong", &host).0, 401);
    assert_eq!(request(&host, "GET", &format!("/?token={token}"), &host).0, 200);
    let bad = bin().args(["board", "131-board", "--listen", "nowhere"]).current_dir(dir).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let missing = bin().args(["board", "139-missing"]).current_dir(dir).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("139-missing"));
}

#[tokio::test]
async fn a_board_off_loopback_without_a_token_is_refused_by_the_library() {
    let tmp = repo("132-board", 1, "");
    let orch = kitty_orchestrator::Orchestrator::open(tmp.path(), None).unwrap();
    let opts = kitty_orchestrator::board::BoardOptions {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..kitty_orchestrator::board::BoardOptions::default()
    };
    let err = kitty_orchestrator::board::Board::bind(orch, "132-board", opts).await.err().unwrap();
    assert_eq!(err.code(), kitty_orchestrator::ErrorCode::ConfigInvalid);
    assert!(err.to_string().contains("needs a token"), "{err}");
}
