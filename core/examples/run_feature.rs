//! Runs a feature with a custom agent and prints the summary.
//!
//! `cargo run -p kitty-orchestrator --example run_feature [REPO FEATURE]` — without arguments it
//! makes a temporary repository holding the built-in demo feature. The "agent" is a two-line
//! shell script (a real one would be `claude`, `codex`, … or your own CLI): it writes a file,
//! commits it and says `KITTY-STATUS: done`; the reviewer says `KITTY-VERDICT: approve`.

use kitty_orchestrator::engine::{RunOptions, no_events};
use kitty_orchestrator::{Config, Orchestrator};
use tokio_util::sync::CancellationToken;

const AGENTS: &str = r#"
max_concurrent_wps = 3

[agents]
implementation = ["scripted"]
review = ["approver"]

[agents.scripted]
command = ["sh", "-c", "echo \"work of $KITTY_WP\" > \"$KITTY_WP.txt\" && git add -A && git commit -qm \"$KITTY_WP\" && echo 'KITTY-STATUS: done'"]

[agents.approver]
command = ["sh", "-c", "echo 'Looks right.'; echo 'KITTY-VERDICT: approve'"]
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
            (repo, kitty_orchestrator::demo::FEATURE.to_string())
        }
    };
    let config = Config::from_toml_str(AGENTS, "<example>")?;
    let orchestrator = Orchestrator::open(&repo, Some(config))?;
    let summary = orchestrator.run(&feature, RunOptions::default(), no_events(), CancellationToken::new()).await?;
    println!(
        "{:?}: {} done, {} blocked, {} remaining",
        summary.outcome, summary.done, summary.blocked, summary.remaining
    );
    for wp in &summary.wps {
        println!(
            "{} {:<10} attempts {} by {}",
            wp.facts.id,
            wp.facts.lane,
            wp.facts.attempts,
            wp.facts.agents.join(", ")
        );
    }
    assert_eq!(summary.outcome, kitty_orchestrator::RunOutcome::Completed);
    Ok(())
}
