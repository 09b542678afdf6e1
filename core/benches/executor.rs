//! Executor benchmarks (`cargo bench -p kitty-orchestrator --bench executor`):
//! an agent writing 1 GiB to stdout — throughput and this process's peak RSS — next to
//! `cat bigfile > log` on the same volume; and spawn+reap latency of a trivial agent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kitty_orchestrator::command::{AgentCommand, Delivery, OutputKind};
use kitty_orchestrator::executor::{AgentRun, execute};
use kitty_orchestrator::role::Role;
use tokio_util::sync::CancellationToken;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn run_for(dir: &std::path::Path, program: &str, args: &[&str], env: &[(&str, &str)], name: &str) -> AgentRun {
    AgentRun {
        session: None,
        command: AgentCommand {
            resume: None,
            agent: "bench".into(),
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            delivery: Delivery::Stdin,
            output: OutputKind::Text,
            driver: kitty_orchestrator::command::Driver::Cli,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            redact: Vec::new(),
            checked_version: None,
            api: None,
        },
        role: Role::Implementation,
        attempt: 1,
        feature: "bench".into(),
        wp: name.into(),
        cwd: dir.to_path_buf(),
        prompt: "go".into(),
        log_path: dir.join(format!("{name}.log")),
        timeout: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(600),
        grace: Duration::from_millis(500),
        confinement: None,
    }
}

fn main() {
    let mib: usize = std::env::var("KITTY_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fake = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents/fake-agent");

    // Baseline: the same bytes through `cat file > log`.
    let big = dir.join("big.txt");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let line = format!("{}\n", "y".repeat(1023));
        for _ in 0..mib * 1024 {
            f.write_all(line.as_bytes()).unwrap();
        }
    }
    let start = Instant::now();
    let out = std::fs::File::create(dir.join("cat.log")).unwrap();
    assert!(std::process::Command::new("cat").arg(&big).stdout(out).status().unwrap().success());
    let cat = start.elapsed();
    std::fs::remove_file(&big).unwrap();
    std::fs::remove_file(dir.join("cat.log")).unwrap();

    let rss_before = peak_rss_mib();
    let mib_text = mib.to_string();
    let run = run_for(
        dir,
        fake.to_str().unwrap(),
        &[],
        &[("FAKE_MODE", "flood"), ("FAKE_FLOOD_MB", &mib_text), ("FAKE_FORMAT", "text")],
        "flood",
    );
    let start = Instant::now();
    let outcome = runtime.block_on(execute(run, None, CancellationToken::new())).unwrap();
    let ours = start.elapsed();
    assert!(outcome.success(), "{}", outcome.describe());
    let rss_after = peak_rss_mib();
    println!(
        "{mib} MiB of agent output: executor {:.2} s ({:.0} MiB/s, {} lines) vs `cat file > log` {:.2} s ({:.0} MiB/s): ratio {:.1}x; peak RSS {:.1} MiB (was {:.1} MiB before the run)",
        ours.as_secs_f64(),
        mib as f64 / ours.as_secs_f64(),
        outcome.lines,
        cat.as_secs_f64(),
        mib as f64 / cat.as_secs_f64(),
        ours.as_secs_f64() / cat.as_secs_f64(),
        rss_after,
        rss_before
    );
    std::fs::remove_file(&outcome.log_path).unwrap();

    let mut times: Vec<Duration> = (0..100)
        .map(|i| {
            let run = run_for(dir, "true", &[], &[], &format!("true-{i}"));
            let start = Instant::now();
            let outcome = runtime.block_on(execute(run, None, CancellationToken::new())).unwrap();
            assert!(outcome.success());
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "spawn + stream + reap of `true` (log file, group cleanup): median {:.2} ms, p90 {:.2} ms over 100 runs",
        times[50].as_secs_f64() * 1e3,
        times[90].as_secs_f64() * 1e3
    );

    // The same, confined by Landlock (ruleset built per run, applied between fork and exec),
    // interleaved with unconfined runs so both see the same machine.
    if !kitty_orchestrator::sandbox::support().available {
        println!("Landlock is unavailable here: no confined spawn figure");
        return;
    }
    let confinement = kitty_orchestrator::sandbox::Confinement {
        mode: kitty_orchestrator::sandbox::SandboxMode::Required,
        writable: vec![dir.to_path_buf(), PathBuf::from("/dev/null")],
        git_writable: Vec::new(),
    };
    let (mut plain, mut boxed) = (Vec::new(), Vec::new());
    for i in 0..100 {
        for confined in [false, true] {
            let mut run = run_for(dir, "true", &[], &[], &format!("spawn-{i}-{confined}"));
            if confined {
                run.confinement = Some(confinement.clone());
            }
            let start = Instant::now();
            let outcome = runtime.block_on(execute(run, None, CancellationToken::new())).unwrap();
            assert!(outcome.success(), "{}", outcome.describe());
            if confined { boxed.push(start.elapsed()) } else { plain.push(start.elapsed()) }
        }
    }
    plain.sort();
    boxed.sort();
    println!(
        "spawn of `true`, confined vs unconfined (interleaved, 100 each): median {:.2} ms vs {:.2} ms: ratio {:.2}x",
        boxed[50].as_secs_f64() * 1e3,
        plain[50].as_secs_f64() * 1e3,
        boxed[50].as_secs_f64() / plain[50].as_secs_f64()
    );
}
