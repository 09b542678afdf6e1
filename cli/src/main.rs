//! `kitty-orchestrator`: the command line. Parses arguments and renders; all logic is in core.

mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, stable for scripts.
pub mod exit {
    /// Everything asked for succeeded.
    pub const OK: u8 = 0;
    /// The input (feature, configuration, arguments) is invalid.
    pub const BAD_INPUT: u8 = 2;
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a feature directory: list its work packages in order, or every problem found.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let code = match cli.command {
        Command::Validate(args) => validate::run(args),
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
