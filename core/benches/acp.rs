//! ACP driver benchmarks (`cargo bench -p kitty-orchestrator --bench acp`):
//!
//! 1. Per-attempt time of the same agent — the real gemini-cli, newest from npm — against the same
//!    loopback model stand-in, driven as a headless CLI (`gemini -p … --output-format json`) and
//!    over ACP (`gemini --acp`), side by side: alternating, `KITTY_BENCH_ROUNDS` rounds (default
//!    5), each attempt in a fresh repository, the same implementation prompt (write a file,
//!    commit it). Both include the CLI's own start-up; the ratio is what the driver adds.
//! 2. This process's memory with 16 ACP sessions at once (the ACP fixture agent, each streaming
//!    20,000 message chunks), next to 16 CLI-driver runs of the fake agent printing as much.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kitty_orchestrator::command::{AgentCommand, Delivery, Driver, OutputKind};
use kitty_orchestrator::executor::{AgentRun, Outcome, execute};
use kitty_orchestrator::role::Role;
use kitty_test_support::model_standin::{EditStyle, ModelStandIn};
use tokio_util::sync::CancellationToken;

const KEY: &str = "kitty-standin-key-5f0c2a";

fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git").args(args).current_dir(dir).status().unwrap().success();
    assert!(ok, "git {args:?}");
}

fn fresh_repo(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.name", "Bench"]);
    git(&dir, &["config", "user.email", "bench@example.com"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "start"]);
    dir
}

#[allow(clippy::too_many_arguments)]
fn run_of(
    dir: &Path,
    program: &str,
    args: &[&str],
    driver: Driver,
    output: OutputKind,
    env: &[(String, String)],
    prompt: &str,
    name: &str,
) -> AgentRun {
    AgentRun {
        session: None,
        command: AgentCommand {
            resume: None,
            agent: "gemini".into(),
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            delivery: Delivery::Stdin,
            output,
            driver,
            env: env.to_vec(),
            redact: Vec::new(),
            checked_version: None,
            api: None,
        },
        role: Role::Implementation,
        attempt: 1,
        feature: "bench".into(),
        wp: name.into(),
        cwd: dir.to_path_buf(),
        prompt: prompt.into(),
        log_path: dir.with_extension("log"),
        timeout: Duration::from_secs(300),
        idle_timeout: Duration::from_secs(120),
        grace: Duration::from_millis(500),
        confinement: None,
    }
}

fn timed(runtime: &tokio::runtime::Runtime, run: AgentRun) -> (f64, Outcome) {
    let started = Instant::now();
    let outcome = runtime.block_on(execute(run, None, CancellationToken::new())).unwrap();
    (started.elapsed().as_secs_f64(), outcome)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn per_attempt(runtime: &tokio::runtime::Runtime, root: &Path) {
    let installed = match kitty_test_support::real_clis::npm("@google/gemini-cli", "latest", "gemini") {
        Ok(installed) => installed,
        Err(skip) => {
            println!("ACP vs CLI per attempt: NOT MEASURED — gemini-cli not installable: {skip}");
            return;
        }
    };
    let rounds: usize = std::env::var("KITTY_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let standin = ModelStandIn::start("gemini", EditStyle::Tools);
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    std::fs::write(home.join(".gemini/settings.json"), r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#)
        .unwrap();
    let env: Vec<(String, String)> = [
        ("HOME", home.display().to_string()),
        ("GOOGLE_GEMINI_BASE_URL", standin.url.clone()),
        ("GEMINI_API_KEY", KEY.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let program = installed.program.display().to_string();
    let cli_args = [
        "-p",
        kitty_orchestrator::agents::READ_STDIN,
        "--output-format",
        "json",
        "--approval-mode",
        "yolo",
        "--skip-trust",
    ];
    let (mut cli, mut acp) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for (driver, times) in [(Driver::Cli, &mut cli), (Driver::Acp, &mut acp)] {
            let name = format!("{}-{round}", driver.as_str());
            let dir = fresh_repo(root, &name);
            let prompt = format!(
                "You are implementing work package WP01 of feature bench.\n\nYou are in the git worktree {}, on branch main.\n\
                 Write the file and commit it. End with KITTY-STATUS: done",
                dir.display()
            );
            let run = match driver {
                Driver::Cli => {
                    run_of(&dir, &program, &cli_args, driver, OutputKind::JsonDocument, &env, &prompt, &name)
                }
                Driver::Acp => run_of(&dir, &program, &["--acp"], driver, OutputKind::Text, &env, &prompt, &name),
            };
            let (seconds, outcome) = timed(runtime, run);
            assert!(
                outcome.success() && dir.join("wp01.txt").exists(),
                "{} attempt failed: {} (log {})",
                driver.as_str(),
                outcome.describe(),
                outcome.log_path.display()
            );
            times.push(seconds);
        }
    }
    let (cli, acp) = (median(cli), median(acp));
    println!(
        "ACP vs CLI per attempt, {} ({rounds} rounds, same stand-in, write + commit): CLI driver {cli:.2} s, ACP driver {acp:.2} s (medians): ratio {:.2}x",
        installed.version,
        acp / cli
    );
}

fn sixteen_sessions(runtime: &tokio::runtime::Runtime, root: &Path) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/agents");
    let state = root.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let measure = |driver: Driver| -> (f64, f64) {
        let before = rss_mib("VmRSS:");
        let runs: Vec<AgentRun> = (0..16)
            .map(|i| {
                let name = format!("mem-{}-{i}", driver.as_str());
                let dir = fresh_repo(root, &name);
                let (program, env): (PathBuf, Vec<(String, String)>) = match driver {
                    Driver::Acp => (
                        fixtures.join("acp-agent"),
                        vec![
                            ("ACP_MODE".into(), "flood".into()),
                            ("ACP_FLOOD".into(), "20000".into()),
                            ("ACP_STATE_DIR".into(), state.display().to_string()),
                        ],
                    ),
                    // The same volume: 20,000 lines of ~90 bytes.
                    Driver::Cli => (
                        fixtures.join("fake-agent"),
                        vec![("FAKE_MODE".into(), "flood".into()), ("FAKE_FLOOD_MB".into(), "2".into())],
                    ),
                };
                let mut run = run_of(
                    &dir,
                    &program.display().to_string(),
                    &[],
                    driver,
                    OutputKind::Text,
                    &env,
                    "Say done.",
                    &name,
                );
                run.command.agent = "bench".into();
                run
            })
            .collect();
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sampler = {
            let peak = peak.clone();
            std::thread::spawn(move || {
                for _ in 0..600 {
                    let now = (rss_mib("VmRSS:") * 1024.0) as u64;
                    peak.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
                    if Arc::strong_count(&peak) == 1 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let started = Instant::now();
        let outcomes = runtime.block_on(async {
            let all = runs.into_iter().map(|run| execute(run, None, CancellationToken::new()));
            futures::future::join_all(all).await
        });
        let seconds = started.elapsed().as_secs_f64();
        for outcome in outcomes {
            let outcome = outcome.unwrap();
            assert!(outcome.failure.is_none(), "{}", outcome.describe());
        }
        let peak_mib = peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0;
        drop(peak);
        let _ = sampler.join();
        (peak_mib - before, seconds)
    };
    let (cli_mib, cli_s) = measure(Driver::Cli);
    let (acp_mib, acp_s) = measure(Driver::Acp);
    println!(
        "16 sessions at once, 20,000 lines each: ACP driver +{acp_mib:.1} MiB over the process's resting RSS ({:.2} MiB per session, {acp_s:.1} s) vs CLI driver +{cli_mib:.1} MiB ({cli_s:.1} s)",
        acp_mib / 16.0
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    per_attempt(&runtime, tmp.path());
    sixteen_sessions(&runtime, tmp.path());
}
