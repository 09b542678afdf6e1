//! `kitty-orchestrator`: the command line. Parses arguments and renders; all logic is in core.

mod board;
mod doctor;
mod init;
mod inspect;
mod merge;
mod orchestrate;
mod progress;
mod remote;
mod render;
mod run;
mod validate;
mod workspaces;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: reading a board allocates and frees thousands of
/// small snapshots and inflate buffers, which glibc hands back to the kernel and faults in again
/// (a fifth of `status` on 1000 WPs was page faults).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, stable for scripts.
pub mod exit {
    /// Everything asked for succeeded (a run: every WP done).
    pub const OK: u8 = 0;
    /// The run ended with WPs blocked (or waiting on blocked ones).
    pub const BLOCKED: u8 = 1;
    /// The input (feature, configuration, arguments, agents) is invalid.
    pub const BAD_INPUT: u8 = 2;
    /// The run was aborted or interrupted; `resume` continues it.
    pub const ABORTED: u8 = 3;
    /// Another orchestrator holds the feature (or a WP).
    pub const BUSY: u8 = 4;
    /// Something failed inside the orchestrator.
    pub const INTERNAL: u8 = 70;
}

/// Runs spec-kitty work packages through autonomous coding agents, with run state kept in git.
#[derive(Parser)]
#[command(name = "kitty-orchestrator", version, about)]
struct Cli {
    /// Log more (repeat for more detail); also set by RUST_LOG.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Read the feature as this format instead of by its path's shape: spec-kitty, kiro or
    /// task-list. For `report`, also how to print it: markdown (default), html or json.
    #[arg(long, global = true, value_parser = parse_format)]
    format: Option<FormatArg>,
    /// Load Kiro's optional tasks (`- [ ]*`) as WPs too (config `include_optional`).
    #[arg(long, global = true)]
    include_optional: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a feature: every WP not done, through implement → review → done.
    Run(run::RunArgs),
    /// Continue a feature after a crash, an abort or a fix (the same as `run`).
    Resume(run::RunArgs),
    /// Show the lanes of a feature's WPs, from the refs (works while a run is going).
    Status(inspect::StatusArgs),
    /// Show the event history of a feature or one WP, from the refs.
    Log(inspect::LogArgs),
    /// Abort the feature's run (from any terminal): agents are stopped, WPs stay resumable.
    Abort(inspect::AbortArgs),
    /// Move a blocked WP back to planned.
    Retry(inspect::RetryArgs),
    /// Release a WP held by a run that cannot release it (another host, a crashed container);
    /// it keeps its lane and branch, and the next run claims it.
    Release(inspect::ReleaseArgs),
    /// Land the done WPs on the target branch in dependency order (one merge commit each, or
    /// --strategy squash); computed in memory, the branch moves only when everything merged.
    Merge(merge::MergeArgs),
    /// Push what landed to a remote through `git` (your credentials): the landed branch, with
    /// --branches the WP branches, and the feature's refs/kitty/*, each with its expected old value.
    Push(merge::PushArgs),
    /// The feature's report: outcome, per-WP agents, attempts, reviews, time, cost and commits,
    /// where it landed, verification rounds and resolved conflicts (markdown or JSON).
    Report(merge::ReportArgs),
    /// Serve the feature's report page live on 127.0.0.1 (updated as the run moves, read-only;
    /// click a WP for its history and log tail). Other addresses only with --listen and a token.
    Board(board::BoardArgs),
    /// Push the landed branch and open (or update) its pull request into the target branch, with
    /// the report as body: through `gh` when logged in, else the GitHub API with GITHUB_TOKEN.
    Pr(merge::PrArgs),
    /// spec-kitty-orchestrator's command line (same options, same exit codes: 0 every WP
    /// approved, 1 anything else, 130 interrupted): run a spec-kitty mission by its slug.
    Orchestrate(orchestrate::OrchestrateArgs),
    /// List the built-in and configured agents, found or not, with versions.
    Agents(inspect::AgentsArgs),
    /// What this machine can do for a run: whether agents are confined here (Landlock), what
    /// each agent may write by role, and which agents are installed.
    Doctor(doctor::DoctorArgs),
    /// Check a feature directory: list its work packages in order, or every problem found.
    Validate(validate::Args),
    /// Workspaces cloned by `run --clone`: list them with their features' progress, or remove
    /// one (its refs backed up first).
    Workspaces(workspaces::WorkspacesArgs),
    /// Write a commented .kittify/orchestrator.toml for the agents found here.
    Init(init::InitArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Run the built-in demo: a small feature, a temporary repository and a demo agent.
    Demo(run::DemoArgs),
    /// The demo agent (used by `demo`).
    #[command(hide = true)]
    DemoAgent,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::DemoAgent) {
        return ExitCode::from(kitty_orchestrator::demo::agent_main() as u8);
    }
    init_logging(cli.verbose);
    let feature_format = match cli.format {
        Some(FormatArg::Feature(format)) => Some(format),
        Some(FormatArg::Report(format)) => {
            let Command::Report(args) = cli.command else {
                eprintln!(
                    "error: --format {} names how `report` prints; other commands read a feature as spec-kitty, kiro or task-list",
                    format.name()
                );
                return ExitCode::from(exit::BAD_INPUT);
            };
            let _ = LOAD.set((None, cli.include_optional));
            return ExitCode::from(merge::report(args.with_format(format)));
        }
        None => None,
    };
    let _ = LOAD.set((feature_format, cli.include_optional));
    let code = match cli.command {
        Command::Run(args) | Command::Resume(args) => run::run(args),
        Command::Status(args) => inspect::status(args),
        Command::Log(args) => inspect::log(args),
        Command::Abort(args) => inspect::abort(args),
        Command::Retry(args) => inspect::retry(args),
        Command::Release(args) => inspect::release(args),
        Command::Merge(args) => merge::merge(args),
        Command::Push(args) => merge::push(args),
        Command::Report(args) => merge::report(args),
        Command::Board(args) => board::board(args),
        Command::Pr(args) => merge::pr(args),
        Command::Orchestrate(args) => orchestrate::orchestrate(args),
        Command::Agents(args) => inspect::agents(args),
        Command::Doctor(args) => doctor::doctor(args),
        Command::Validate(args) => validate::run(args),
        Command::Demo(args) => run::demo(args),
        Command::Init(args) => init::init(args),
        Command::Workspaces(args) => workspaces::workspaces(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "kitty-orchestrator", &mut std::io::stdout());
            exit::OK
        }
        Command::DemoAgent => unreachable!("handled above"),
    };
    ExitCode::from(code)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // HTTP and TLS crates dump whole requests (a token among the headers) at debug and trace.
    for target in kitty_orchestrator::redact::NOISY_LOG_TARGETS {
        filter = filter.add_directive(format!("{target}=warn").parse().expect("a valid directive"));
    }
    for target in kitty_orchestrator::redact::PROTOCOL_LOG_TARGETS {
        filter = filter.add_directive(format!("{target}=error").parse().expect("a valid directive"));
    }
    // Every line goes out redacted: secrets of the environment by value, token shapes.
    let redactor = std::sync::Arc::new(kitty_orchestrator::redact::Redactor::from_env(&[]));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(move || kitty_orchestrator::redact::RedactingWriter::new(redactor.clone(), std::io::stderr()))
        .init();
}

/// `--format` and `--include-optional`, for every command that reads a feature.
static LOAD: std::sync::OnceLock<(Option<kitty_orchestrator::FeatureFormat>, bool)> = std::sync::OnceLock::new();

/// `--format`: how a feature is read, or (for `report`) how it is printed.
#[derive(Debug, Clone, Copy)]
enum FormatArg {
    Feature(kitty_orchestrator::FeatureFormat),
    Report(merge::ReportFormat),
}

fn parse_format(name: &str) -> Result<FormatArg, String> {
    if let Some(format) = merge::ReportFormat::parse(name) {
        return Ok(FormatArg::Report(format));
    }
    name.parse().map(FormatArg::Feature).map_err(|e: String| format!("{e}; for `report`: markdown, html or json"))
}

/// Opens the repository with `--format` and `--include-optional` applied.
pub fn open(
    repo: &std::path::Path,
    config: Option<kitty_orchestrator::Config>,
) -> Result<kitty_orchestrator::Orchestrator, kitty_orchestrator::Error> {
    let orch = kitty_orchestrator::Orchestrator::open(repo, config)?;
    let (format, include_optional) = LOAD.get().copied().unwrap_or_default();
    let orch = orch.with_feature_format(format);
    Ok(if include_optional { orch.with_optional_tasks(true) } else { orch })
}

/// How `validate` reads a feature: `--format` and `--include-optional`.
pub fn load_options() -> kitty_orchestrator::LoadOptions {
    let (format, include_optional) = LOAD.get().copied().unwrap_or_default();
    kitty_orchestrator::LoadOptions { format, include_optional }
}

/// The exit code for an error, by the kind of its stable code.
pub fn exit_for(err: &kitty_orchestrator::Error) -> u8 {
    exit_for_code(err.code())
}

/// The exit code for an error code.
pub fn exit_for_code(code: kitty_orchestrator::ErrorCode) -> u8 {
    use kitty_orchestrator::ErrorKind;
    match code.kind() {
        ErrorKind::BadInput => exit::BAD_INPUT,
        ErrorKind::Busy => exit::BUSY,
        ErrorKind::Aborted => exit::ABORTED,
        ErrorKind::Failure => exit::INTERNAL,
    }
}

/// Prints an error (to stderr, or as JSON on stdout) and returns its exit code.
pub fn fail(err: &kitty_orchestrator::Error, json: bool) -> u8 {
    if json {
        println!("{}", serde_json::json!({"type": "error", "code": err.code(), "error": err.to_string()}));
    } else {
        eprintln!("error: {}", render::clean(&err.to_string()));
    }
    exit_for(err)
}

#[cfg(test)]
mod tests {
    use kitty_orchestrator::ErrorCode;

    /// The error table (docs/errors.md) says which exit code each error code gives: so does the CLI.
    #[test]
    fn exit_codes_agree_with_the_error_table() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors.md")).unwrap();
        let table = readme.split("| code | meaning |").nth(1).expect("the README has an error-code table");
        let rows: Vec<(String, u8)> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_string(), cells[3].parse().unwrap())
            })
            .collect();
        assert_eq!(rows.len(), ErrorCode::ALL.len());
        for (code, exit) in rows {
            let parsed = ErrorCode::parse(&code).unwrap_or_else(|| panic!("README lists unknown code {code}"));
            assert_eq!(super::exit_for_code(parsed), exit, "{code}");
        }
    }
}
