//! The GitHub REST client against hostile loopback servers: an answer that never ends is cut
//! off at the cap (the host's failure, named), never read into memory whole.

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use kitty_orchestrator::forge::{GitHubApi, PullRequestHost, parse_repo_url};
use kitty_orchestrator::redact::Redactor;

#[test]
fn an_endless_api_answer_is_cut_off_and_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
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
                let chunk = format!("{:x}\r\n[{}\r\n", 64 * 1024 + 1, "1,".repeat(32 * 1024));
                for _ in 0..16 * 1024 {
                    if out.write_all(chunk.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let repo = parse_repo_url("https://github.com/octo/hello.git").unwrap();
    let client = GitHubApi::new(&api, "tok-endless-123456", repo, &Redactor::default());
    let started = Instant::now();
    let err = client.find_open("feature/x", "main").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "read for {:?}", started.elapsed());
    let text = err.to_string();
    assert!(text.contains("could not be read"), "{text}");
    assert!(!text.contains("tok-endless-123456"), "{text}");
}
