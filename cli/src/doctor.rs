//! `doctor`: what this machine can do for a run — whether agents can be confined here (and how
//! each configured agent will be), what each role of each agent may write, and which agents are
//! installed.

use std::path::PathBuf;

use clap::Args;
use kitty_orchestrator::sandbox::SandboxMode;

use crate::{exit, fail};

#[derive(Args)]
pub struct DoctorArgs {
    /// The repository whose configuration to read (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Print JSON: `{"sandbox": {...}, "agents": [...]}`.
    #[arg(long)]
    json: bool,
}

pub fn doctor(args: DoctorArgs) -> u8 {
    let config = match kitty_orchestrator::Config::load(&args.repo) {
        Ok(c) => c,
        Err(err) => return fail(&err.into(), args.json),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let found = runtime.block_on(kitty_orchestrator::agents::detect(&config));
    let support = kitty_orchestrator::sandbox::support();
    if args.json {
        let report = serde_json::json!({
            "sandbox": {
                "available": support.available,
                "landlock": support.status,
                "why_not": support.why_not,
                "abi": support.abi,
                "scopes": support.scopes,
                "mode": config.sandbox,
            },
            "agents": found,
        });
        println!("{}", serde_json::to_string_pretty(&report).expect("serializable"));
        return exit::OK;
    }
    let mode = mode_name(config.sandbox);
    match (&support.why_not, config.sandbox) {
        (None, _) => {
            let abi = support.abi.map_or_else(|| "ABI unknown".to_string(), |v| format!("ABI {v}"));
            let scopes = match support.scopes.as_slice() {
                [] => "signals and abstract sockets not scoped (needs ABI 6)".to_string(),
                scopes => format!("scoped: {}", scopes.join(", ")),
            };
            println!("sandbox: landlock ({}, {abi}, {scopes}); sandbox = \"{mode}\"", support.status)
        }
        (Some(why), SandboxMode::Required) => {
            println!("sandbox: unavailable ({why}); sandbox = \"required\": runs are refused")
        }
        (Some(why), _) => println!("sandbox: unavailable ({why}); sandbox = \"{mode}\": agents run unconfined"),
    }
    for agent in &found {
        let installed = match (&agent.version, &agent.path, &agent.why_not) {
            (_, _, Some(why)) => format!("not usable: {why}"),
            (Some(version), _, None) => version.clone(),
            (None, Some(path), None) => path.display().to_string(),
            (None, None, None) => "not found".into(),
        };
        let disabled = if agent.enabled { "" } else { " (disabled)" };
        let confined = match &agent.sandbox.why_not {
            None => format!("confined ({})", mode_name(agent.sandbox.mode)),
            Some(why) if agent.sandbox.mode == SandboxMode::Required => format!("refused: {why}"),
            Some(why) => format!("unconfined: {why}"),
        };
        println!("\n{}{disabled}: {installed}; {confined}", agent.id);
        println!("  implementation may write: {}", agent.sandbox.implementation_writable.join(", "));
        println!("    (files and directories only: {})", agent.sandbox.git_files_only.join(", "));
        for copy in &agent.sandbox.private_copies {
            println!("  private per attempt:      {copy}");
        }
        println!("  review may write:         {}", agent.sandbox.review_writable.join(", "));
    }
    exit::OK
}

fn mode_name(mode: SandboxMode) -> &'static str {
    SandboxMode::ALL.iter().find(|(_, m)| *m == mode).map_or("best_effort", |(name, _)| name)
}
