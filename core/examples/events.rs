//! Subscribes to a run's events and prints each lane change as it happens.
//!
//! `cargo run -p kitty-orchestrator --example events` — on a temporary copy of the demo feature,
//! with a scripted agent. Events are one enum with a `type` tag, the same JSON in Rust, Python
//! and Node; the sink is called from runtime threads and must not block for long.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kitty_orchestrator::engine::{Event, EventSink, RunOptions};
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
    let temp = tempfile::tempdir()?;
    let repo = temp.path().join("demo");
    kitty_orchestrator::demo::create_repo(&repo)?;
    let orchestrator = Orchestrator::open(&repo, Some(Config::from_toml_str(AGENTS, "<example>")?))?;
    let changes = Arc::new(AtomicUsize::new(0));
    let counter = changes.clone();
    let sink: EventSink = Arc::new(move |event: Event| match &event {
        Event::LaneChanged { wp, from_lane: from, to_lane: to, agent, .. } => {
            counter.fetch_add(1, Ordering::Relaxed);
            println!("{wp}: {from} -> {to} {}", agent.as_deref().unwrap_or(""));
        }
        Event::RunFinished { summary, .. } => println!("finished: {:?}", summary.outcome),
        // The same event as JSON, as the CLI's `--json` prints it.
        other => println!("  {}", serde_json::to_string(other).expect("events serialize")),
    });
    let feature = kitty_orchestrator::demo::FEATURE;
    orchestrator.run(feature, RunOptions::default(), sink, CancellationToken::new()).await?;
    // Six WPs, three lane changes each (planned -> doing -> for_review -> done).
    assert_eq!(changes.load(Ordering::Relaxed), 18);
    Ok(())
}
