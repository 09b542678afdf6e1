//! Engine overhead (`cargo bench -p kitty-orchestrator --bench engine`): a generated 100-WP
//! feature (random DAG) run at concurrency 8 with a trivial committing agent, against the
//! critical-path lower bound computed from the agent times the run itself recorded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kitty_orchestrator::engine::{RunOptions, RunOutcome, no_events};
use kitty_orchestrator::{Config, Orchestrator};
use tokio_util::sync::CancellationToken;

fn main() {
    let n: usize = std::env::var("KITTY_BENCH_WPS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let concurrency = 8;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let git = |args: &[&str]| assert!(Command::new("git").args(args).current_dir(dir).status().unwrap().success());
    git(&["init", "-q", "-b", "main"]);
    git(&["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "init"]);
    let tasks = dir.join("kitty-specs/950-bench/tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut deps: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for k in 1..=n {
        let mut d: Vec<usize> =
            if k == 1 { vec![] } else { (0..rand() % 3).map(|_| 1 + (rand() as usize % (k - 1))).collect() };
        d.sort();
        d.dedup();
        let list: Vec<String> = d.iter().map(|i| format!("WP{i:03}")).collect();
        std::fs::write(
            tasks.join(format!("WP{k:03}-x.md")),
            format!("---\nwork_package_id: WP{k:03}\ndependencies: [{}]\n---\nwork\n", list.join(", ")),
        )
        .unwrap();
        deps.insert(k, d);
    }
    git(&["add", "-A"]);
    git(&["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "feature"]);
    let agent = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents/trivial-agent");
    let cfg = format!(
        "max_concurrent_wps = {concurrency}\n[agents]\nimplementation = [\"t\"]\nreview = [\"r\"]\n[agents.t]\ncommand = [\"{0}\"]\noutput = \"stream-json\"\n[agents.r]\ncommand = [\"{0}\"]\noutput = \"stream-json\"\n",
        agent.display()
    );
    let orch = Orchestrator::open(dir, Some(Config::from_toml_str(&cfg, "bench").unwrap())).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let opts = RunOptions { grace: Duration::from_secs(1), ..RunOptions::default() };
    let start = Instant::now();
    let summary = runtime.block_on(orch.run("950-bench", opts, no_events(), CancellationToken::new())).unwrap();
    let wall = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(summary.outcome, RunOutcome::Completed);
    // Lower bound: the longest dependency chain of agent time, or all agent time spread over the slots.
    let agent_ms: BTreeMap<usize, f64> =
        summary.wps.iter().map(|w| (w.facts.id[2..].parse().unwrap(), w.facts.agent_ms as f64)).collect();
    let mut finish: BTreeMap<usize, f64> = BTreeMap::new();
    for k in 1..=n {
        let ready = deps[&k].iter().map(|d| finish[d]).fold(0.0, f64::max);
        finish.insert(k, ready + agent_ms[&k]);
    }
    let critical = finish.values().cloned().fold(0.0, f64::max);
    let total: f64 = agent_ms.values().sum();
    let bound = critical.max(total / concurrency as f64);
    let cpu = |who| {
        let usage = nix::sys::resource::getrusage(who).unwrap();
        (usage.user_time().tv_sec() as f64
            + usage.user_time().tv_usec() as f64 / 1e6
            + usage.system_time().tv_sec() as f64
            + usage.system_time().tv_usec() as f64 / 1e6)
            * 1e3
    };
    let ours = cpu(nix::sys::resource::UsageWho::RUSAGE_SELF);
    let agents = cpu(nix::sys::resource::UsageWho::RUSAGE_CHILDREN);
    println!(
        "CPU: orchestrator {ours:.0} ms ({:.1} ms per WP), agents and git children {agents:.0} ms; {} cores",
        ours / n as f64,
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
    );
    println!(
        "{n} WPs at concurrency {concurrency}: wall {wall:.0} ms; lower bound {bound:.0} ms (critical path {critical:.0} ms, total agent time {total:.0} ms / {concurrency}); ratio {:.2}x; overhead {:.1} ms per WP (worktree checkout, state commits, scheduling), {:.1} ms of agent time per WP",
        wall / bound,
        (wall - bound) * concurrency as f64 / n as f64,
        total / n as f64
    );
}
