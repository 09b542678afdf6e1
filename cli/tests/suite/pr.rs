//! `pr` as a real process, against a loopback stand-in of GitHub's REST API (and a fake `gh`),
//! never the internet.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::common::{bin, git, repo};

/// One request the stand-in saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: String,
    body: serde_json::Value,
}

/// A stand-in for the pull-request endpoints of GitHub's REST API on loopback.
struct GitHub {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    pulls: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn github() -> GitHub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let pulls = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let (s, p, base) = (seen.clone(), pulls.clone(), url.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() || line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
            let (mut length, mut authorization) = (0usize, String::new());
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or((header, ""));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => authorization = value.trim().to_string(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            s.lock().unwrap().push(Seen {
                method: method.clone(),
                path: path.clone(),
                authorization: authorization.clone(),
                body: body.clone(),
            });
            let (status, answer) = if authorization != "Bearer tok-secret-1234567" {
                (401, serde_json::json!({"message": "Bad credentials"}))
            } else if method == "GET" && path.starts_with("/repos/octo/hello/pulls?") {
                let all = p.lock().unwrap();
                let open: Vec<_> = all
                    .iter()
                    .filter(|pr| {
                        path.contains(&format!("head=octo%3A{}", pr["head"].as_str().unwrap().replace('/', "%2F")))
                    })
                    .cloned()
                    .collect();
                (200, serde_json::Value::Array(open))
            } else if method == "POST" && path == "/repos/octo/hello/pulls" {
                let mut all = p.lock().unwrap();
                let number = all.len() + 1;
                let pr = serde_json::json!({"number": number, "html_url": format!("{base}/octo/hello/pull/{number}"), "head": body["head"], "base": body["base"], "title": body["title"], "body": body["body"]});
                all.push(pr.clone());
                (201, pr)
            } else if method == "PATCH" && path.starts_with("/repos/octo/hello/pulls/") {
                let number: usize = path.rsplit('/').next().unwrap().parse().unwrap();
                let mut all = p.lock().unwrap();
                let pr = &mut all[number - 1];
                pr["title"] = body["title"].clone();
                pr["body"] = body["body"].clone();
                (200, pr.clone())
            } else {
                (404, serde_json::json!({"message": "Not Found"}))
            };
            let text = answer.to_string();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    GitHub { url, seen, pulls }
}

/// A directory holding only `git` (and, with `gh`, the fake gh): a PATH without a real `gh`.
fn path_with(gh: bool) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let git =
        String::from_utf8(std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout)
            .unwrap();
    std::os::unix::fs::symlink(git.trim(), dir.path().join("git")).unwrap();
    if gh {
        let fake = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bin/gh");
        std::os::unix::fs::symlink(fake, dir.path().join("gh")).unwrap();
    }
    // The interpreter itself (a pyenv shim would need bash on PATH).
    let python = String::from_utf8(
        std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::os::unix::fs::symlink(python.trim(), dir.path().join("python3")).unwrap();
    let path = dir.path().display().to_string();
    (dir, path)
}

/// A repository whose feature ran and landed on `feature/040`, with `origin` a bare repository
/// at `<tmp>/octo/hello.git`.
fn landed(slug: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let tmp = repo(slug, 2, "");
    let dir = tmp.path();
    let place = tempfile::tempdir().unwrap();
    let remote = place.path().join("octo/hello.git");
    std::fs::create_dir_all(&remote).unwrap();
    git(&remote, &["init", "-q", "--bare", "-b", "main"]);
    git(dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let out = bin().args(["run", slug, "--grace", "1"]).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = bin().args(["merge", slug, "--into", "feature/040"]).current_dir(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    (tmp, place)
}

fn pr(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = bin();
    cmd.args(["pr", "040-pr"])
        .current_dir(dir)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_API_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn pr_opens_one_pull_request_with_the_report_and_updates_it_the_second_time() {
    let (tmp, _remote) = landed("040-pr");
    let dir = tmp.path();
    let server = github();
    let (_bin, path) = path_with(false);
    let env =
        [("GITHUB_API_URL", server.url.as_str()), ("GITHUB_TOKEN", "tok-secret-1234567"), ("PATH", path.as_str())];
    let first = pr(dir, &env);
    let (stdout, stderr) = (String::from_utf8_lossy(&first.stdout), String::from_utf8_lossy(&first.stderr));
    assert_eq!(first.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("pull request #1 opened (feature/040 -> main on octo/hello, via GitHub API"), "{stdout}");
    let second = pr(dir, &env);
    let stdout2 = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{stdout2}");
    assert!(stdout2.contains("pull request #1 updated"), "{stdout2}");
    let pulls = server.pulls.lock().unwrap().clone();
    assert_eq!(pulls.len(), 1, "updated, not duplicated");
    assert_eq!((pulls[0]["head"].as_str(), pulls[0]["base"].as_str()), (Some("feature/040"), Some("main")));
    let body = pulls[0]["body"].as_str().unwrap();
    assert!(body.contains("# 040-pr: complete") && body.contains("| WP02 |"), "the report is the body: {body}");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(), ["GET", "POST", "GET", "PATCH"]);
    assert!(seen.iter().all(|s| s.authorization == "Bearer tok-secret-1234567"));
    assert_eq!(seen[1].body["head"], "feature/040");
    assert!(
        seen[0].path.contains("head=octo%3Afeature%2F040") && seen[3].path == "/repos/octo/hello/pulls/1",
        "{seen:?}"
    );
    for text in [&stdout, &stderr, &stdout2] {
        assert!(!text.contains("tok-secret-1234567"), "{text}");
    }
    // The branch was pushed before the pull request was opened.
    assert!(git(&_remote.path().join("octo/hello.git"), &["branch", "--list", "feature/040"]).contains("feature/040"));
    // The run chain remembers it: the report (JSON, and the page's link) and `git log` show it.
    let json = bin().args(["report", "040-pr", "--json"]).current_dir(dir).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["pull_request"]["number"], 1, "{report:#}");
    assert_eq!(
        (report["pull_request"]["head"].as_str(), report["pull_request"]["base"].as_str()),
        (Some("feature/040"), Some("main"))
    );
    let url = report["pull_request"]["url"].as_str().unwrap().to_string();
    let html = bin().args(["report", "040-pr", "--format", "html"]).current_dir(dir).output().unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(html.contains(&format!("pull request <a href=\"{url}\" rel=\"noreferrer\">#1</a>")), "{html}");
    let log = git(dir, &["log", "--format=%s", "refs/kitty/run/040-pr"]);
    assert!(log.contains("Pull request #1") || log.contains("pull_request"), "{log}");
}

#[test]
fn without_gh_or_a_token_pr_names_what_it_looked_at() {
    let (tmp, _remote) = landed("040-pr");
    let (_bin, path) = path_with(false);
    let out = pr(tmp.path(), &[("PATH", path.as_str())]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("GITHUB_TOKEN") && stderr.contains("GH_TOKEN") && stderr.contains("not installed"),
        "{stderr}"
    );
    // A token the host refuses: its message, not the token.
    let server = github();
    let out = pr(
        tmp.path(),
        &[("PATH", path.as_str()), ("GITHUB_API_URL", server.url.as_str()), ("GH_TOKEN", "wrong-token-99999")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{stderr}");
    assert!(stderr.contains("Bad credentials") && !stderr.contains("wrong-token-99999"), "{stderr}");
}

#[test]
fn a_logged_in_gh_is_used_first() {
    let (tmp, _remote) = landed("040-pr");
    let (_bin, path) = path_with(true);
    let state = tempfile::tempdir().unwrap();
    let (st, log) = (state.path().join("prs.json"), state.path().join("log"));
    let env = [
        ("PATH", path.as_str()),
        ("FAKE_GH_LOGGED_IN", "1"),
        ("FAKE_GH_STATE", st.to_str().unwrap()),
        ("FAKE_GH_LOG", log.to_str().unwrap()),
        ("GITHUB_TOKEN", "unused-token-1234"),
    ];
    let out = pr(tmp.path(), &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("pull request #1 opened") && stdout.contains("via gh"), "{stdout}");
    assert!(pr(tmp.path(), &env).status.success());
    let prs: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
    assert_eq!(prs.as_array().unwrap().len(), 1);
    assert!(prs[0]["body"].as_str().unwrap().contains("# 040-pr: complete"));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("\"create\"") && calls.contains("\"edit\"") && calls.contains("\"octo/hello\""), "{calls}");
}

/// `pr -vvv` and `RUST_LOG=trace` are what users turn on when `pr` fails: the token never
/// appears on stderr, as text or as the HTTP crates' hex dump of the request.
#[test]
fn no_verbosity_prints_the_token() {
    let (tmp, _remote) = landed("040-pr");
    let dir = tmp.path();
    let server = github();
    let (_bin, path) = path_with(false);
    let token = "tok-secret-1234567";
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    for (flag, rust_log) in
        [("-vvv", None), ("-v", Some("trace")), ("-v", Some("ureq=trace,ureq_proto=trace,rustls=trace"))]
    {
        let mut cmd = bin();
        cmd.args([flag, "pr", "040-pr"])
            .current_dir(dir)
            .env_remove("GH_TOKEN")
            .env("GITHUB_API_URL", &server.url)
            .env("GITHUB_TOKEN", token)
            .env("PATH", &path);
        match rust_log {
            Some(v) => cmd.env("RUST_LOG", v),
            None => cmd.env_remove("RUST_LOG"),
        };
        let out = cmd.output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        if rust_log.is_none_or(|v| v == "trace") {
            assert!(stderr.contains("DEBUG"), "{flag} {rust_log:?} logs: {stderr}");
        }
        // The HTTP crates say warnings at most, whatever was asked of them.
        assert!(!stderr.contains("ureq") && !stderr.contains("rustls"), "{stderr}");
        for text in [&stdout, &stderr] {
            assert!(!text.contains(token) && !text.contains(&hex) && !text.contains("tok-secret"), "{text}");
        }
    }
    assert!(server.seen.lock().unwrap().iter().all(|s| s.authorization == format!("Bearer {token}")));
}

/// A token goes over https, or plain http to loopback only: never in the clear across a network.
#[test]
fn a_token_is_never_sent_to_a_plain_http_host() {
    let (tmp, _remote) = landed("040-pr");
    let (_bin, path) = path_with(false);
    let env = [
        ("GITHUB_API_URL", "http://api.github.example"),
        ("GITHUB_TOKEN", "tok-secret-plain-111"),
        ("PATH", path.as_str()),
    ];
    let out = pr(tmp.path(), &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("GITHUB_API_URL") && stderr.contains("https"), "{stderr}");
    assert!(!stderr.contains("tok-secret-plain-111"), "{stderr}");
}
