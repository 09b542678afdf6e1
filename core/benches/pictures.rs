//! The pictures (`cargo bench -p kitty-orchestrator --bench pictures`), on a 1000-WP feature whose
//! WPs each went through a whole implement → review → done cycle:
//!
//! - the HTML report: its generation (`Orchestrator::report` + `report::html`) next to reading the
//!   same board (`Orchestrator::status`), and its size;
//! - the live board: from a ref moving (an event appended by another thread, as another process
//!   would) to its `change` event reaching a client (target < 500 ms);
//! - the board's own CPU while nothing moves, with a client connected, next to what looking at
//!   the refs every 300 ms would cost over the same time.
//!
//! Prints `FIGURE|…` lines; no assertion (machines are noisy).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kitty_orchestrator::Orchestrator;
use kitty_orchestrator::board::{Board, BoardOptions};
use support::time_ms as time;

mod support;

/// This process's CPU time (user + system).
fn cpu() -> Duration {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
    let tv = |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    tv(usage.user_time()) + tv(usage.system_time())
}

fn main() {
    let wps: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    support::populate_cycled(dir, wps);

    let status = time(7, || {
        let orch = Orchestrator::open(dir, None).unwrap();
        assert_eq!(orch.status("900-bench").unwrap().wps.len(), wps);
    });
    let mut size = 0;
    let html = time(7, || {
        let orch = Orchestrator::open(dir, None).unwrap();
        let page = kitty_orchestrator::report::html(&orch.report("900-bench").unwrap());
        size = page.len();
    });
    println!(
        "FIGURE|HTML report of {wps} WPs (report + page, in-process)|{html:.0} ms|status of the same WPs|{status:.0} ms|{:.2}|< 1 s",
        html / status
    );
    println!(
        "FIGURE|HTML report of {wps} WPs: file size|{} KiB|per WP|{:.2} KiB|-|self-contained",
        size / 1024,
        size as f64 / 1024.0 / wps as f64
    );

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let board = runtime.block_on(async {
        let orch = Orchestrator::open(dir, None).unwrap();
        Board::bind(orch, "900-bench", BoardOptions::default()).await.unwrap()
    });
    let addr = board.local_addr();
    runtime.spawn(board.serve(cancel.clone()));
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut events = BufReader::new(stream);
    let mut next_event = |name: &str| loop {
        let mut line = String::new();
        events.read_line(&mut line).unwrap();
        if line.starts_with(&format!("event: {name}")) {
            return;
        }
    };
    next_event("hello");

    // Idle: nothing moves for 10 s.
    let idle = Duration::from_secs(10);
    let before = cpu();
    std::thread::sleep(idle);
    let board_idle = (cpu() - before).as_secs_f64() * 1e3;
    let orch = Orchestrator::open(dir, None).unwrap();
    let before = cpu();
    for _ in 0..(idle.as_millis() / 300) {
        orch.refs_fingerprint("900-bench").unwrap();
    }
    let polling = (cpu() - before).as_secs_f64() * 1e3;
    println!(
        "FIGURE|board idle with a client, 10 s (its CPU)|{board_idle:.1} ms|looking at the refs every 300 ms instead|{polling:.1} ms|{:.3}|~0",
        board_idle / polling.max(0.001)
    );

    // A ref moves (a WP chain set back one event and forth again, as another process's update
    // would move it): how long until the client hears of it.
    let repo = git2::Repository::open(dir).unwrap();
    let mut latencies = Vec::new();
    for i in 0..10 {
        let name = format!("refs/kitty/wp/900-bench/WP{:04}", i + 1);
        let tip = repo.refname_to_id(&name).unwrap();
        let parent = repo.find_commit(tip).unwrap().parent_id(0).unwrap();
        for target in [parent, tip] {
            std::thread::sleep(Duration::from_millis(200));
            let started = Instant::now();
            repo.reference(&name, target, true, "bench: the board's latency").unwrap();
            next_event("change");
            latencies.push(started.elapsed());
        }
    }
    let latency = support::median_ms(latencies);
    println!("FIGURE|board: a ref moves → the client's change event (median of 20)|{latency:.0} ms|-|-|-|< 500 ms");
    cancel.cancel();
}
