//! `orchestrate`: the command line of `spec-kitty-orchestrator`, so its users switch by changing
//! one word. Same options, same exit codes: 0 when every WP is merge-ready (approved or done),
//! 1 for anything else (blocked WPs, errors, another run holding the mission), 130 when
//! interrupted, 2 for bad usage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kitty_orchestrator::engine::{RunOptions, RunOutcome};

use crate::render;

/// spec-kitty-orchestrator's exit code for anything but a merge-ready mission.
const NOT_READY: u8 = 1;
/// Its exit code when interrupted (Ctrl-C).
const INTERRUPTED: u8 = 130;

#[derive(clap::Args)]
pub struct OrchestrateArgs {
    /// Mission slug to orchestrate.
    #[arg(long, short = 'm')]
    mission: String,
    /// Override the implementation agent.
    #[arg(long = "impl-agent")]
    impl_agent: Option<String>,
    /// Override the review agent.
    #[arg(long = "review-agent")]
    review_agent: Option<String>,
    /// Max concurrent WPs.
    #[arg(long, default_value_t = 4)]
    max_concurrent: usize,
    /// Actor identity (accepted for compatibility; our events name the agents themselves).
    #[arg(long)]
    actor: Option<String>,
    /// Override the repository root (default: the nearest directory up with a .kittify).
    #[arg(long)]
    repo_root: Option<PathBuf>,
    /// Validate the configuration and print the plan without running.
    #[arg(long)]
    dry_run: bool,
    /// Accepted for compatibility (a macOS sleep assertion; nothing to do here).
    #[arg(long)]
    no_caffeinate: bool,
}

fn find_repo_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors().find(|dir| dir.join(".kittify").exists()).map_or(cwd.clone(), Path::to_path_buf)
}

pub fn orchestrate(args: OrchestrateArgs) -> u8 {
    let _ = (&args.actor, args.no_caffeinate);
    let root = args.repo_root.clone().unwrap_or_else(find_repo_root);
    let orch = match crate::open(&root, None) {
        Ok(o) => o,
        Err(err) => {
            crate::fail(&err, false);
            return NOT_READY;
        }
    };
    let opts = RunOptions {
        impl_agents: args.impl_agent.clone().map(|a| vec![a]),
        review_agents: args.review_agent.clone().map(|a| vec![a]),
        max_concurrent: Some(args.max_concurrent),
        grace: Duration::from_secs(5),
        ..RunOptions::default()
    };
    if args.dry_run {
        return match orch.plan(&args.mission, &opts) {
            Ok(plan) => {
                println!("Dry run: configuration valid.");
                print!("{}", render::plan(&plan));
                crate::exit::OK
            }
            Err(err) => {
                crate::fail(&err, false);
                NOT_READY
            }
        };
    }
    println!("Starting orchestration for mission {}", args.mission);
    match crate::run::drive(&orch, &args.mission, opts, false) {
        Ok(summary) => {
            print!("{}", render::summary_table(&summary));
            match summary.outcome {
                RunOutcome::Completed => {
                    println!("\nOrchestration complete. All WPs are approved.");
                    println!("Next step: the lane branches are ready but NOT yet merged into the target branch.");
                    // 4.0 renamed `merge` to `consolidate` (and removed `merge`).
                    let land = kitty_orchestrator::spec_kitty::SpecKitty::detect(&root).generation().land_command();
                    println!("  Run: spec-kitty {land} --mission {}", args.mission);
                    println!("  (or: kitty-orchestrator merge {})", args.mission);
                    crate::exit::OK
                }
                RunOutcome::Aborted => INTERRUPTED,
                RunOutcome::Blocked => {
                    println!("\nOrchestration stopped without a merge-ready mission.");
                    println!("  Resolve the blocked WPs (kitty-orchestrator retry), then run again before merging.");
                    NOT_READY
                }
            }
        }
        Err(err) => {
            crate::fail(&err, false);
            if err.code() == kitty_orchestrator::ErrorCode::Aborted { INTERRUPTED } else { NOT_READY }
        }
    }
}
