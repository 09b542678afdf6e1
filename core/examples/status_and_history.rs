//! Reads a feature's board and one WP's history from git, with no run going on.
//!
//! `cargo run -p kitty-orchestrator --example status_and_history [REPO FEATURE]` — without
//! arguments it first runs the demo feature in a temporary repository with a scripted agent.
//! The same data is in plain git: `git for-each-ref refs/kitty/wp/<feature>/`, `git log
//! refs/kitty/wp/<feature>/WP01`, `git show refs/kitty/wp/<feature>/WP01:state.json`.

use kitty_orchestrator::engine::{RunOptions, no_events};
use kitty_orchestrator::{Config, Orchestrator};
use tokio_util::sync::CancellationToken;

const AGENTS: &str = r#"
[agents]
implementation = ["scripted"]
review = ["approver"]
[agents.scripted]
command = ["sh", "-c", "date > \"$KITTY_WP.txt\" && git add -A && git commit -qm \"$KITTY_WP\" && echo 'KITTY-STATUS: done'"]
[agents.approver]
command = ["sh", "-c", "echo 'KITTY-VERDICT: approve'"]
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let temp = tempfile::tempdir()?;
    let (repo, feature) = match args.as_slice() {
        [repo, feature] => (std::path::PathBuf::from(repo), feature.clone()),
        _ => {
            let repo = temp.path().join("demo");
            kitty_orchestrator::demo::create_repo(&repo)?;
            let orchestrator = Orchestrator::open(&repo, Some(Config::from_toml_str(AGENTS, "<example>")?))?;
            let feature = kitty_orchestrator::demo::FEATURE;
            orchestrator.run(feature, RunOptions::default(), no_events(), CancellationToken::new()).await?;
            (repo, feature.to_string())
        }
    };
    let orchestrator = Orchestrator::open(&repo, None)?;
    let status = orchestrator.status(&feature)?;
    if let Some(run) = &status.run {
        println!("run: {} ({} runs)", run.status.as_str(), run.runs);
    }
    for (id, state) in &status.wps {
        println!("{id} {:<10} attempts {} agents {:?}", state.lane, state.attempts_total, state.agents_used);
    }
    for corrupt in &status.corrupt {
        println!("unreadable: {}: {}", corrupt.reference, corrupt.why);
    }
    let first = status.wps.keys().next().expect("the feature has WPs").to_string();
    println!("\nhistory of {first}:");
    for entry in orchestrator.history(&feature, Some(&first))? {
        println!("  {} {}", &entry.commit[..10], entry.subject);
    }
    Ok(())
}
