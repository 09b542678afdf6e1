//! The built-in `openai-api` agent against a loopback stand-in of the chat-completions endpoint
//! (`kitty_test_support::chat_server`): a WP implemented through tool calls and reviewed with
//! `verdict`; rate limits, auth failures, malformed answers and a silent server; tool calls
//! that try to leave the worktree; bounded reads; the key nowhere in logs, refs or notes.

use crate::common;

use std::time::Duration;

use kitty_orchestrator::engine::{RunOutcome, no_events};
use kitty_orchestrator::state::WpEvent;
use kitty_orchestrator::{FailureClass, Orchestrator};
use kitty_test_support::chat_server::{ChatServer, Reply};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::common::{agent, config, fast, git};

const KEY: &str = "sk-test-0123456789abcdefSECRET";

/// A configuration whose `openai-api` talks to `server` (key in its env table), with the fake
/// CLI agent `impl` as the implementation fallback.
fn api_config(server: &ChatServer, implementation: &str, extra: &str) -> kitty_orchestrator::Config {
    config(
        &format!(
            "max_retries = 1\n[agents]\nimplementation = [{implementation}]\nreview = [\"openai-api\"]\n\
             [agents.openai-api]\nbase_url = \"{}\"\nmodel = \"stand-in\"\napi_key_env = \"KITTY_TEST_API_KEY\"\n\
             env = {{ KITTY_TEST_API_KEY = \"{KEY}\" }}\nallowed_commands = [\"ls\"]\nprice_in_per_mtok = 1.0\n\
             price_out_per_mtok = 2.0\n{extra}",
            server.base_url
        ),
        &[agent("impl", &[])],
    )
}

fn finished(orch: &Orchestrator, feature: &str) -> Vec<(String, Option<FailureClass>)> {
    orch.history(feature, Some("WP01"))
        .unwrap()
        .iter()
        .filter_map(|h| match &h.state.last_event {
            WpEvent::AgentFinished { agent, failure, .. } => Some((agent.clone(), *failure)),
            _ => None,
        })
        .collect()
}

/// Every tool answer the model was sent, in order.
fn tool_answers(server: &ChatServer) -> Vec<String> {
    let mut seen = Vec::new();
    for request in server.received() {
        for message in request.body["messages"].as_array().into_iter().flatten() {
            if message["role"] == "tool" {
                let text = message["content"].as_str().unwrap_or("").to_string();
                if !seen.contains(&text) {
                    seen.push(text);
                }
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wp_is_implemented_through_tools_and_approved_with_a_verdict() {
    let tmp = common::repo();
    common::feature(tmp.path(), "040-api", &[("WP01", "planned", &[])]);
    let server = ChatServer::start(vec![
        Reply::tools(&[
            ("list_files", json!({})),
            ("write_file", json!({"path": "src/hello.txt", "content": "hello from the model\n"})),
            ("run_command", json!({"argv": ["ls", "src"]})),
        ]),
        Reply::tools(&[("edit_file", json!({"path": "src/hello.txt", "old_text": "hello", "new_text": "hi"}))]),
        Reply::tools(&[("finish", json!({"status": "done", "summary": "wrote src/hello.txt"}))]),
        // The review: read, then approve.
        Reply::tools(&[("read_file", json!({"path": "src/hello.txt"}))]),
        Reply::tools(&[("verdict", json!({"decision": "approve", "feedback": "looks right"}))]),
    ]);
    let orch = Orchestrator::open(tmp.path(), Some(api_config(&server, "\"openai-api\"", ""))).unwrap();
    let (sink, events) = common::recorder();
    let opts = kitty_orchestrator::engine::RunOptions { output_lines: true, ..fast() };
    let summary = orch.run("040-api", opts, sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert_eq!(finished(&orch, "040-api"), [("openai-api".into(), None), ("openai-api".into(), None)]);
    assert_eq!(server.remaining(), 0);
    // Each assistant message and tool call is an output line for subscribers.
    let lines: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            kitty_orchestrator::engine::Event::AgentOutput { agent, line, .. } if agent == "openai-api" => {
                Some(line.clone())
            }
            _ => None,
        })
        .collect();
    assert!(lines.iter().any(|l| l.starts_with("[tool_call write_file]")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with("[tool_result run_command] exit code 0")), "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains(KEY)));
    // The work is committed on the WP's branch.
    assert_eq!(git(tmp.path(), &["show", "040-api-WP01:src/hello.txt"]), "hi from the model\n");
    // Each tool's answer reached the model.
    let answers = tool_answers(&server);
    assert!(answers.iter().any(|a| a.contains("wrote 21 bytes to src/hello.txt")), "{answers:#?}");
    assert!(answers.iter().any(|a| a.starts_with("exit code 0") && a.contains("hello.txt")), "{answers:#?}");
    assert!(answers.iter().any(|a| a.contains("replaced 1 occurrence")), "{answers:#?}");
    assert!(answers.iter().any(|a| a == "hi from the model\n"), "{answers:#?}");
    // The reviewer was offered no writing tools; the implementer was.
    let names = |i: usize| -> Vec<String> {
        server.received()[i].body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(0).contains(&"write_file".to_string()) && names(0).contains(&"finish".to_string()));
    assert!(!names(3).contains(&"write_file".to_string()) && names(3).contains(&"verdict".to_string()));
    assert_eq!(server.received()[0].authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(server.received()[0].request_line, "POST /v1/chat/completions HTTP/1.1");
    // Cost from usage: 3 calls of 100 in + 20 out at $1/$2 per million.
    let wp = &summary.wps[0];
    assert!((wp.facts.cost_usd - 5.0 * 140.0 / 1e6).abs() < 1e-9, "{wp:#?}");

    // The key is nowhere: not in the logs, the refs' messages, the notes.
    let mut everything = String::new();
    for entry in walk(&tmp.path().join(".kittify/logs")) {
        everything.push_str(&std::fs::read_to_string(entry).unwrap_or_default());
    }
    everything.push_str(&git(tmp.path(), &["log", "--all", "--format=%B%n%N", "--notes=*"]));
    everything.push_str(&git(tmp.path(), &["for-each-ref", "--format=%(refname) %(contents)", "refs/kitty/"]));
    assert!(everything.contains("[tool_call write_file]"), "the transcript is in the log");
    assert!(!everything.contains(KEY), "the key leaked");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_waits_its_retry_after_and_an_auth_failure_falls_back() {
    let tmp = common::repo();
    common::feature(tmp.path(), "041-limits", &[("WP01", "planned", &[])]);
    let server = ChatServer::start(vec![
        // Implementation: the key is refused → auth, straight to the fake CLI agent.
        Reply::error(401, "Incorrect API key provided", &[]),
        // Review: rate limited once, then a verdict.
        Reply::error(429, "Rate limit reached", &[("retry-after", "1")]),
        Reply::tools(&[("verdict", json!({"decision": "approve", "feedback": "ok"}))]),
    ]);
    let orch = Orchestrator::open(tmp.path(), Some(api_config(&server, "\"openai-api\", \"impl\"", ""))).unwrap();
    let summary = orch.run("041-limits", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert_eq!(
        finished(&orch, "041-limits"),
        [("openai-api".into(), Some(FailureClass::Auth)), ("impl".into(), None), ("openai-api".into(), None)]
    );
    let received = server.received();
    assert_eq!(received.len(), 3);
    let gap = received[2].at - received[1].at;
    assert!(gap >= Duration::from_millis(950), "the retry waited {gap:?}, not the 1 s asked for");
    let log = std::fs::read_to_string(tmp.path().join(".kittify/logs/041-limits/WP01-review-3.log")).unwrap();
    assert!(log.contains("rate limited") && log.contains("retrying in 1.0 s"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_is_an_error_naming_the_variable_before_anything_starts() {
    let tmp = common::repo();
    common::feature(tmp.path(), "044-nokey", &[("WP01", "planned", &[])]);
    let cfg = config(
        "[agents]\nimplementation = [\"openai-api\"]\nreview = [\"openai-api\"]\n\
         [agents.openai-api]\nbase_url = \"https://api.example.com/v1\"\napi_key_env = \"KITTY_NO_SUCH_KEY\"\n",
        &[],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let err = orch.run("044-nokey", fast(), no_events(), CancellationToken::new()).await.unwrap_err();
    assert_eq!(err.code(), kitty_orchestrator::ErrorCode::NoAgents);
    assert!(err.to_string().contains("openai-api (KITTY_NO_SUCH_KEY is not set"), "{err}");
    assert!(orch.history("044-nokey", Some("WP01")).map_or(true, |h| h.is_empty()), "nothing started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_and_a_silent_server_are_classified() {
    let tmp = common::repo();
    common::feature(tmp.path(), "042-broken", &[("WP01", "planned", &[])]);
    let server = ChatServer::start(vec![Reply::Http(200, Vec::new(), "{\"choices\": [".into()), Reply::Hang]);
    let cfg = api_config(&server, "\"openai-api\"", "idle_timeout_seconds = 1");
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary = orch.run("042-broken", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Blocked, "{summary:#?}");
    assert_eq!(
        finished(&orch, "042-broken"),
        [
            ("openai-api".into(), Some(FailureClass::InvalidOutput)),
            ("openai-api".into(), Some(FailureClass::IdleTimeout))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_refuse_paths_out_of_the_worktree_and_bound_what_they_read() {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, "043-confined", &[("WP01", "planned", &[])]);
    std::os::unix::fs::symlink("/etc", dir.join("etc-link")).unwrap();
    let line = "0123456789 abcdefghijklmnopqrstuvwxyz 0123456789 abcdefghijklmnopqrstuvwxyz\n";
    std::fs::write(dir.join("big.txt"), line.repeat(10 * 1024 * 1024 / line.len())).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "a link and a big file"]);
    let outside = tmp.path().parent().unwrap().join(format!("outside-{}", std::process::id()));
    let server = ChatServer::start(vec![
        Reply::tools(&[
            (
                "write_file",
                json!({"path": format!("../{}", outside.file_name().unwrap().to_string_lossy()), "content": "escaped"}),
            ),
            ("read_file", json!({"path": "etc-link/hostname"})),
            ("write_file", json!({"path": ".git/hooks/post-commit", "content": "#!/bin/sh\n"})),
            ("run_command", json!({"argv": ["sh", "-c", "touch /tmp/pwned"]})),
            ("read_file", json!({"path": "big.txt"})),
            ("write_file", json!({"path": "ok.txt", "content": "inside\n"})),
            ("write_file", json!({"path": "vendor/lib/.git/hooks/pre-commit", "content": "#!/bin/sh\n"})),
        ]),
        Reply::tools(&[("finish", json!({"status": "done", "summary": "done"}))]),
        Reply::tools(&[("verdict", json!({"decision": "approve", "feedback": "fine"}))]),
    ]);
    let orch = Orchestrator::open(dir, Some(api_config(&server, "\"openai-api\"", ""))).unwrap();
    let summary = orch.run("043-confined", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");
    assert!(!outside.exists(), "nothing was written outside the worktree");
    let answers = tool_answers(&server);
    assert!(answers[0].contains("leads out of the worktree"), "{answers:#?}");
    assert!(answers[1].contains("symbolic link out of the worktree"), "{answers:#?}");
    assert!(answers[2].contains("inside .git"), "{answers:#?}");
    assert!(answers[3].contains("`sh` is not an allowed program (allowed: ls)"), "{answers:#?}");
    assert!(
        answers[4].len() <= 33 * 1024 && answers[4].contains("ask for more with start_line"),
        "{}",
        answers[4].len()
    );
    assert_eq!(git(dir, &["show", "043-confined-WP01:ok.txt"]), "inside\n");
    // A `.git` at any depth is a repository's: its hooks would run outside any sandbox.
    assert!(answers[6].contains("inside .git"), "{answers:#?}");
    assert!(!dir.join(".worktrees/043-confined-WP01/vendor").exists());
}

/// Opt-in: a WP run against a real local model server (`KITTY_LOCAL_MODEL_URL`, e.g.
/// `http://127.0.0.1:11434/v1`, and `KITTY_LOCAL_MODEL`); skipped when unset or unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_local_model() {
    let (Ok(url), Ok(model)) = (std::env::var("KITTY_LOCAL_MODEL_URL"), std::env::var("KITTY_LOCAL_MODEL")) else {
        eprintln!("skipped: set KITTY_LOCAL_MODEL_URL and KITTY_LOCAL_MODEL to run against a local model server");
        return;
    };
    let reachable = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .is_some_and(|host| std::net::TcpStream::connect(host).is_ok());
    if !reachable {
        eprintln!("skipped: {url} does not answer");
        return;
    }
    let tmp = common::repo();
    std::fs::create_dir_all(tmp.path().join("kitty-specs/049-local/tasks")).unwrap();
    std::fs::write(
        tmp.path().join("kitty-specs/049-local/tasks/WP01-hello.md"),
        "---\nwork_package_id: WP01\ntitle: Hello\ndependencies: []\n---\nCreate a file hello.txt containing the word hello.\n",
    )
    .unwrap();
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-qm", "task"]);
    let cfg = config(
        &format!(
            "max_retries = 1\n[agents]\nimplementation = [\"openai-api\"]\nreview = [\"openai-api\"]\n\
             [agents.openai-api]\nbase_url = \"{url}\"\nmodel = \"{model}\"\nidle_timeout_seconds = 600\n"
        ),
        &[],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let summary = orch.run("049-local", fast(), no_events(), CancellationToken::new()).await.unwrap();
    eprintln!("{summary:#?}");
    assert_eq!(summary.outcome, RunOutcome::Completed);
    assert!(git(tmp.path(), &["show", "049-local-WP01:hello.txt"]).contains("hello"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_ends_an_attempt_waiting_on_the_model_and_the_wp_stays_resumable() {
    let tmp = common::repo();
    common::feature(tmp.path(), "045-abort", &[("WP01", "planned", &[])]);
    let server = ChatServer::start(vec![Reply::Hang]);
    let orch = Orchestrator::open(tmp.path(), Some(api_config(&server, "\"openai-api\"", ""))).unwrap();
    let running = {
        let orch = orch.clone();
        tokio::spawn(async move { orch.run("045-abort", fast(), no_events(), CancellationToken::new()).await })
    };
    // Abort once the request is out (the model is "thinking").
    for _ in 0..200 {
        if !server.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.received().len(), 1);
    let started = std::time::Instant::now();
    assert!(orch.abort("045-abort").unwrap());
    let summary = running.await.unwrap().unwrap();
    assert_eq!(summary.outcome, RunOutcome::Aborted, "{summary:#?}");
    assert!(started.elapsed() < Duration::from_secs(10), "the abort took {:?}", started.elapsed());
    assert_ne!(summary.wps[0].facts.lane, kitty_orchestrator::Lane::Blocked, "{summary:#?}");
}

/// A server that answers 200 and then streams a body without end (a hostile or broken model
/// server): the attempt fails as `invalid_output` once the answer passes the cap, and the run
/// ends — memory stays bounded by the cap, whatever the server sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_cut_off_at_the_cap() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut out = stream;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if out.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
                // Until the client hangs up (or 1 GiB, so a broken client cannot hang the test).
                for _ in 0..16 * 1024 {
                    if out.write_all(chunk.as_bytes()).is_err() {
                        return;
                    }
                    counter.fetch_add(64 * 1024, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let tmp = common::repo();
    common::feature(tmp.path(), "041-endless", &[("WP01", "planned", &[])]);
    let cfg = config(
        &format!(
            "max_retries = 0\n[agents]\nimplementation = [\"openai-api\"]\nreview = [\"openai-api\"]\n\
             [agents.openai-api]\nbase_url = \"{base_url}\"\nmodel = \"stand-in\"\napi_key_env = \"KITTY_TEST_API_KEY\"\n\
             env = {{ KITTY_TEST_API_KEY = \"{KEY}\" }}\n"
        ),
        &[],
    );
    let orch = Orchestrator::open(tmp.path(), Some(cfg)).unwrap();
    let run = orch.run("041-endless", fast(), no_events(), CancellationToken::new());
    let summary = tokio::time::timeout(Duration::from_secs(60), run).await.expect("the run ended").unwrap();
    assert_eq!(summary.outcome, RunOutcome::Blocked, "{summary:#?}");
    let failures = finished(&orch, "041-endless");
    assert_eq!(failures, vec![("openai-api".to_string(), Some(FailureClass::InvalidOutput))], "{summary:#?}");
    let log = std::fs::read_to_string(tmp.path().join(".kittify/logs/041-endless/WP01-implementation-1.log")).unwrap();
    assert!(log.contains("larger than"), "{log}");
    // The server sent at most a few chunks past the cap before we hung up.
    let cap = kitty_orchestrator::llm::MAX_REPLY_BYTES;
    assert!(sent.load(std::sync::atomic::Ordering::Relaxed) < cap * 4, "read far past the cap");
}
