//! `run`, `resume` and `demo`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kitty_orchestrator::engine::{Event, RunOptions, RunOutcome};
use kitty_orchestrator::{Config, Orchestrator};
use tokio_util::sync::CancellationToken;

use crate::progress::Progress;
use crate::{exit, fail, render};

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// The feature: a slug under kitty-specs/, a Kiro spec name under .kiro/specs/, a directory
    /// or a markdown task list (PLAN.md).
    feature: String,
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Clone this repository URL (through git, your credentials) into <workspace-dir>/<name> and
    /// run there; a clone of the same URL already there is reused (fetched, fast-forwarded).
    #[arg(long, value_name = "URL")]
    clone: Option<String>,
    /// Where --clone puts workspaces (default: KITTY_WORKSPACE_DIR, else the current directory).
    #[arg(long, requires = "clone")]
    workspace_dir: Option<PathBuf>,
    /// With --clone: the branch to run on (default: the clone's target_branch, else the remote's
    /// default branch).
    #[arg(long, requires = "clone")]
    branch: Option<String>,
    /// Implementation agent (repeat for a fallback order); overrides the configuration.
    #[arg(long = "impl-agent")]
    impl_agents: Vec<String>,
    /// Review agent (repeat for a fallback order); overrides the configuration.
    #[arg(long = "review-agent")]
    review_agents: Vec<String>,
    /// WPs in flight at once.
    #[arg(long)]
    max_concurrent: Option<usize>,
    /// Share the feature with other machines through this git remote (name or URL; overrides
    /// `sync_remote`): claims and lane changes are pushed with a lease, WPs owned elsewhere wait.
    #[arg(long)]
    remote: Option<String>,
    /// Seconds between SIGTERM and SIGKILL when stopping an agent.
    #[arg(long, default_value_t = 5)]
    grace: u64,
    /// Print one JSON event per line.
    #[arg(long)]
    json: bool,
    /// Also print every line agents write.
    #[arg(long)]
    output: bool,
    /// Print the plan (order, bases, agents, exact argv) and do nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Keep the demo repository (it is printed either way).
    #[arg(long)]
    keep: bool,
    /// Where to make the demo repository (default: a new temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON event per line.
    #[arg(long)]
    json: bool,
}

/// Runs the engine with events rendered to stdout — live progress on a terminal, plain lines
/// otherwise, JSON lines with `--json`; SIGINT/SIGTERM abort the run.
pub(crate) fn drive(
    orch: &Orchestrator,
    feature: &str,
    mut opts: RunOptions,
    json: bool,
) -> Result<kitty_orchestrator::RunSummary, kitty_orchestrator::Error> {
    use std::io::IsTerminal;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let cancel = CancellationToken::new();
    let terminal = std::io::stdout().is_terminal() && std::env::var_os("TERM").is_some_and(|t| t != "dumb");
    let live = (!json && terminal).then(Progress::new);
    let sink: kitty_orchestrator::engine::EventSink = match &live {
        Some(progress) => {
            // The last output line of each agent is shown on its WP's line.
            opts.output_lines = true;
            progress.sink()
        }
        None if json => {
            Arc::new(move |event: Event| println!("{}", serde_json::to_string(&event).expect("events serialize")))
        }
        None => Arc::new(move |event: Event| {
            if let Some(line) = render::event_line(&event) {
                println!("{line}");
            }
        }),
    };
    let result = runtime.block_on(async {
        cancel_on_signals(cancel.clone(), "interrupted: stopping the agents (the run can be resumed)");
        orch.run(feature, opts, sink, cancel).await
    });
    if let Some(progress) = live {
        progress.finish();
    }
    result
}

/// Cancels `cancel` on SIGINT, SIGTERM or SIGHUP (closing the terminal stops work like Ctrl-C:
/// agents never outlive it), saying `message` on stderr. Call inside a runtime.
pub fn cancel_on_signals(cancel: CancellationToken, message: &'static str) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) =
            (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        // The terminal may be gone (SIGHUP): a failed write must not stop the abort.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{message}");
        cancel.cancel();
    });
}

fn outcome_code(outcome: RunOutcome) -> u8 {
    match outcome {
        RunOutcome::Completed => exit::OK,
        RunOutcome::Blocked => exit::BLOCKED,
        RunOutcome::Aborted => exit::ABORTED,
    }
}

pub fn run(args: RunArgs) -> u8 {
    let repo = match &args.clone {
        Some(url) => match clone_for_run(url, args.workspace_dir.clone(), args.branch.clone(), args.json) {
            Ok(path) => path,
            Err(code) => return code,
        },
        None => args.repo.clone(),
    };
    let orch = match crate::open(&repo, None) {
        Ok(o) => o,
        Err(err) => return fail(&err, args.json),
    };
    let opts = RunOptions {
        impl_agents: (!args.impl_agents.is_empty()).then(|| args.impl_agents.clone()),
        review_agents: (!args.review_agents.is_empty()).then(|| args.review_agents.clone()),
        max_concurrent: args.max_concurrent,
        grace: Duration::from_secs(args.grace),
        output_lines: args.output,
        remote: args.remote.clone(),
        ..RunOptions::default()
    };
    if args.dry_run {
        return match orch.plan(&args.feature, &opts) {
            Ok(plan) => {
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&plan).expect("plans serialize"));
                } else {
                    print!("{}", render::plan(&plan));
                }
                exit::OK
            }
            Err(err) => fail(&err, args.json),
        };
    }
    match drive(&orch, &args.feature, opts, args.json) {
        Ok(summary) => {
            if args.json {
                println!("{}", serde_json::json!({"type": "summary", "summary": summary}));
            } else {
                print!("{}", render::summary_table(&summary));
            }
            outcome_code(summary.outcome)
        }
        Err(err) => fail(&err, args.json),
    }
}

pub fn demo(args: DemoArgs) -> u8 {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => match tempfile::Builder::new().prefix("kitty-demo-").tempdir() {
            // A new directory of our own; removed at the end unless --keep.
            Ok(temp) => temp.keep(),
            Err(err) => {
                eprintln!("error: cannot make a temporary directory for the demo: {err}");
                return exit::INTERNAL;
            }
        },
    };
    if let Err(err) = kitty_orchestrator::demo::create_repo(&dir) {
        eprintln!("error: {err}");
        return exit::BAD_INPUT;
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kitty-orchestrator"));
    let orch = match crate::open(&dir, Some(demo_config(&exe))) {
        Ok(o) => o,
        Err(err) => return fail(&err, args.json),
    };
    if !args.json {
        println!("kitty-orchestrator demo: feature {} in {}\n", kitty_orchestrator::demo::FEATURE, dir.display());
    }
    let opts =
        RunOptions { grace: Duration::from_secs(2), retry_base: Duration::from_millis(200), ..RunOptions::default() };
    let code = match drive(&orch, kitty_orchestrator::demo::FEATURE, opts, args.json) {
        Ok(summary) => {
            if args.json {
                println!("{}", serde_json::json!({"type": "summary", "summary": summary, "repo": dir}));
            } else {
                print!("{}", render::summary_table(&summary));
                let f = kitty_orchestrator::demo::FEATURE;
                println!("\nThe run's state lives in git. Look at it with:");
                println!("  cd {}", dir.display());
                println!("  git for-each-ref --format='%(refname:lstrip=4) %(contents:subject)' refs/kitty/wp/{f}/");
                println!("  git log --format='%h %s' refs/kitty/wp/{f}/WP03");
                println!("  git show refs/kitty/wp/{f}/WP04:state.json");
                println!("  git log --notes=kitty --format='%h %s%n%N' {f}-WP06");
                println!("  git log --graph --oneline --all");
                if !args.keep && args.dir.is_none() {
                    println!("\n(use --keep to keep the repository; it is removed now)");
                }
            }
            outcome_code(summary.outcome)
        }
        Err(err) => fail(&err, args.json),
    };
    if !args.keep && args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

fn demo_config(exe: &std::path::Path) -> Config {
    kitty_orchestrator::demo::config(exe)
}

/// Clones (or reuses) the workspace for `run --clone`; its path, or the exit code of the error.
pub fn clone_for_run(url: &str, dir: Option<PathBuf>, branch: Option<String>, json: bool) -> Result<PathBuf, u8> {
    let mut options = kitty_orchestrator::workspace::CloneOptions::new(
        url,
        dir.unwrap_or_else(kitty_orchestrator::workspace::default_workspace_dir),
    );
    options.branch = branch;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let cancel = CancellationToken::new();
    let result = rt.block_on(async {
        cancel_on_signals(cancel.clone(), "interrupted: stopping the clone");
        kitty_orchestrator::workspace::clone_workspace(&options, &cancel).await
    });
    match result {
        Ok(cloned) => {
            if json {
                println!("{}", serde_json::json!({"type": "workspace", "workspace": cloned}));
            } else {
                let how = if cloned.reused { "reusing" } else { "cloned into" };
                let branch = cloned.branch.as_deref().map(|b| format!(" on {b}")).unwrap_or_default();
                eprintln!("{how} {}{branch}", cloned.path.display());
                for warning in &cloned.warnings {
                    eprintln!("warning: {}", render::clean(warning));
                }
            }
            Ok(cloned.path)
        }
        Err(err) => Err(fail(&err.into(), json)),
    }
}
