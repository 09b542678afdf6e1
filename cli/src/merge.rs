//! `merge`: land the done WPs of a feature on the target branch.

use std::path::PathBuf;
use std::sync::Arc;

use kitty_orchestrator::engine::MergeOutcome;
use kitty_orchestrator::engine::{Event, MergeOptions, OriginCheck};
use kitty_orchestrator::merge_strategy::MergeStrategy;
use tokio_util::sync::CancellationToken;

use crate::{exit, fail, render};

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The feature: a slug under kitty-specs/ or a directory.
    feature: String,
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Land on this branch instead of the feature's target branch (created from it if missing).
    #[arg(long, value_name = "BRANCH")]
    into: Option<String>,
    /// How each WP lands (default: `merge_strategy` in the configuration, else merge).
    #[arg(long, value_parser = ["merge", "squash"])]
    strategy: Option<String>,
    /// Land the done WPs whose dependencies all land, even when others are not done.
    #[arg(long)]
    partial: bool,
    /// Show the order, what each step merges and the conflicts; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Give conflicts to an implementation agent instead of stopping (its resolution is checked:
    /// no conflict marker may be left).
    #[arg(long)]
    resolve: bool,
    /// Push what landed afterwards (to `push_remote`, default origin).
    #[arg(long)]
    push: bool,
    /// Then open (or update) the landed branch's pull request (pushes it; see `pr`).
    #[arg(long)]
    pr: bool,
    /// Send done WPs whose branch moved after review approved it back to review (at the tip)
    /// instead of refusing; `resume` reviews them, then merge again.
    #[arg(long)]
    reopen_moved: bool,
    /// A spec-kitty 4.0 mission: whether `spec-kitty consolidate` checks origin first (default:
    /// spec-kitty's, `enforce`; 3.x checks none).
    #[arg(long, value_name = "MODE", value_parser = ["enforce", "warn", "off"])]
    origin_check: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn merge(args: MergeArgs) -> u8 {
    let orch = match crate::open(&args.repo, None) {
        Ok(o) => o,
        Err(err) => return fail(&err, args.json),
    };
    let opts = MergeOptions {
        into: args.into.clone(),
        strategy: args.strategy.as_deref().and_then(MergeStrategy::parse),
        partial: args.partial,
        dry_run: args.dry_run,
        resolve: args.resolve,
        push: args.push,
        pr: args.pr,
        reopen_moved: args.reopen_moved,
        origin_check: args.origin_check.as_deref().and_then(OriginCheck::parse),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let json = args.json;
    let sink: kitty_orchestrator::engine::EventSink = Arc::new(move |event: Event| {
        if json {
            println!("{}", serde_json::to_string(&event).expect("events serialize"));
        }
    });
    let cancel = CancellationToken::new();
    let result = runtime.block_on(async {
        crate::run::cancel_on_signals(cancel.clone(), "interrupted: stopping the merge (nothing lands)");
        orch.merge(&args.feature, opts, sink, cancel).await
    });
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::json!({"type": "merge_report", "report": report}));
            } else {
                print!("{}", render::merge_report(&report));
            }
            match report.outcome {
                MergeOutcome::DryRun if !report.conflicts.is_empty() => exit::BLOCKED,
                MergeOutcome::VerifyFailed => exit::BLOCKED,
                _ => match report.push_error.as_ref().or(report.pr_error.as_ref()) {
                    Some(err) => crate::exit_for_code(err.code),
                    None => exit::OK,
                },
            }
        }
        Err(err) => fail(&err, args.json),
    }
}

#[derive(clap::Args)]
pub struct PushArgs {
    /// The feature: a slug under kitty-specs/ or a directory.
    feature: String,
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The remote (default: `push_remote` in the configuration, else origin).
    #[arg(long)]
    remote: Option<String>,
    /// The branch to push (default: where the feature last landed).
    #[arg(long)]
    branch: Option<String>,
    /// Push the WP branches too.
    #[arg(long)]
    branches: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn push(args: PushArgs) -> u8 {
    let orch = match crate::open(&args.repo, None) {
        Ok(o) => o,
        Err(err) => return fail(&err, args.json),
    };
    let opts =
        kitty_orchestrator::engine::PushOptions { remote: args.remote, branch: args.branch, branches: args.branches };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let cancel = CancellationToken::new();
    let result = runtime.block_on(async {
        crate::run::cancel_on_signals(cancel.clone(), "interrupted: stopping the push");
        orch.push(&args.feature, opts, cancel).await
    });
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::json!({"type": "push_report", "report": report}));
            } else {
                print!("{}", render::push_report(&report));
            }
            exit::OK
        }
        Err(err) => fail(&err, args.json),
    }
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The feature: a slug under kitty-specs/ or a directory.
    feature: String,
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Print JSON instead of markdown (the same as `--format json`).
    #[arg(long)]
    json: bool,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(skip)]
    format: Option<ReportFormat>,
}

/// How `report` prints: `--format markdown|html|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Html,
    Json,
}

impl ReportFormat {
    pub fn parse(name: &str) -> Option<ReportFormat> {
        match name {
            "markdown" | "md" => Some(ReportFormat::Markdown),
            "html" => Some(ReportFormat::Html),
            "json" => Some(ReportFormat::Json),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Markdown => "markdown",
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
        }
    }
}

impl ReportArgs {
    pub fn with_format(mut self, format: ReportFormat) -> ReportArgs {
        self.format = Some(format);
        self
    }
}

pub fn report(args: ReportArgs) -> u8 {
    let format = args.format.unwrap_or(if args.json { ReportFormat::Json } else { ReportFormat::Markdown });
    let json = format == ReportFormat::Json;
    let orch = match crate::open(&args.repo, None) {
        Ok(o) => o,
        Err(err) => return fail(&err, json),
    };
    let report = match orch.report(&args.feature) {
        Ok(report) => report,
        Err(err) => return fail(&err, json),
    };
    let text = match format {
        ReportFormat::Json => serde_json::to_string_pretty(&report).expect("reports serialize") + "\n",
        ReportFormat::Markdown => kitty_orchestrator::report::markdown(&report),
        ReportFormat::Html => kitty_orchestrator::report::html(&report),
    };
    match &args.output {
        Some(path) => match kitty_orchestrator::atomic_file::write_atomically(path, text.as_bytes()) {
            Ok(()) => exit::OK,
            Err(err) => {
                eprintln!("error: {}: {err}", path.display());
                exit::BAD_INPUT
            }
        },
        None => {
            print!("{text}");
            exit::OK
        }
    }
}

#[derive(clap::Args)]
pub struct PrArgs {
    /// The feature: a slug under kitty-specs/ or a directory.
    feature: String,
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The remote to push to, whose repository gets the pull request (default: push_remote).
    #[arg(long)]
    remote: Option<String>,
    /// The branch with the work (default: where the feature last landed).
    #[arg(long)]
    head: Option<String>,
    /// The branch it goes into (default: the feature's target branch).
    #[arg(long)]
    base: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn pr(args: PrArgs) -> u8 {
    let orch = match crate::open(&args.repo, None) {
        Ok(o) => o,
        Err(err) => return fail(&err, args.json),
    };
    let opts = kitty_orchestrator::engine::PrOptions { remote: args.remote, head: args.head, base: args.base };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let cancel = CancellationToken::new();
    let result = runtime.block_on(async {
        crate::run::cancel_on_signals(cancel.clone(), "interrupted: stopping");
        orch.pull_request(&args.feature, opts, cancel).await
    });
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::json!({"type": "pr_report", "report": report}));
            } else {
                print!("{}", render::push_report(&report.pushed));
                println!(
                    "pull request #{} {} ({} -> {} on {}, via {}): {}",
                    report.pull_request.number,
                    if report.created { "opened" } else { "updated" },
                    render::clean(&report.head),
                    render::clean(&report.base),
                    render::clean(&report.repository),
                    render::clean(&report.via),
                    render::clean(&report.pull_request.url)
                );
            }
            exit::OK
        }
        Err(err) => fail(&err, args.json),
    }
}
