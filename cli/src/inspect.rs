//! `status`, `log`, `abort`, `retry`, `agents`: reading and nudging state in the refs.

use std::path::PathBuf;

use kitty_orchestrator::Orchestrator;

use crate::render::{age, clean};
use crate::{exit, fail};

#[derive(clap::Args)]
pub struct FeatureArg {
    /// The feature: a slug under kitty-specs/ or a directory.
    pub(crate) feature: String,
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    pub(crate) repo: PathBuf,
}

#[derive(clap::Args)]
pub struct AbortArgs {
    #[command(flatten)]
    pub(crate) target: FeatureArg,
    /// Abort the feature's run on every machine sharing it through this git remote (recorded on
    /// the remote; each machine stops its agents at its next look at it).
    #[arg(long)]
    pub(crate) remote: Option<String>,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: FeatureArg,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Refresh every 2 seconds until interrupted.
    #[arg(long)]
    watch: bool,
    /// The board as this git remote has it (a shared run), with each machine's heartbeat age.
    #[arg(long)]
    remote: Option<String>,
}

#[derive(clap::Args)]
pub struct LogArgs {
    #[command(flatten)]
    target: FeatureArg,
    /// Only this WP.
    wp: Option<String>,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct RetryArgs {
    #[command(flatten)]
    target: FeatureArg,
    /// The blocked WP.
    wp: String,
}

#[derive(clap::Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    target: FeatureArg,
    /// The WP to release: one held by a run that cannot release it (on another host, or in a
    /// container that is gone).
    wp: String,
}

#[derive(clap::Args)]
pub struct AgentsArgs {
    /// The repository whose configuration to read (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn open(target: &FeatureArg, json: bool) -> Result<Orchestrator, u8> {
    crate::open(&target.repo, None).map_err(|err| fail(&err, json))
}

pub fn status(args: StatusArgs) -> u8 {
    let orch = match open(&args.target, args.json) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Some(remote) = &args.remote {
        return crate::remote::status(&orch, &args.target.feature, remote, args.json, args.watch);
    }
    let here = kitty_orchestrator::state::this_host();
    loop {
        let status = match orch.status(&args.target.feature) {
            Ok(s) => s,
            Err(err) => return fail(&err, args.json),
        };
        if args.json {
            // The wire shape: snake_case, `wps` as a list in id order. Serialized straight to a
            // buffered stdout (a board of 1000 WPs is ~1.5 MB; no intermediate JSON tree).
            #[derive(serde::Serialize)]
            struct Doc<'a> {
                feature: &'a str,
                run: &'a Option<kitty_orchestrator::state::RunState>,
                wps: Vec<&'a kitty_orchestrator::state::WpState>,
                corrupt: &'a [kitty_orchestrator::state::CorruptState],
                #[serde(skip_serializing_if = "Option::is_none")]
                offline: Option<&'a kitty_orchestrator::engine::Offline>,
            }
            let doc = Doc {
                feature: &status.feature,
                run: &status.run,
                wps: status.wps.values().collect(),
                corrupt: &status.corrupt,
                offline: status.offline.as_ref(),
            };
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            let written = serde_json::to_writer(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| std::io::Write::write_all(&mut out, b"\n"))
                .and_then(|()| std::io::Write::flush(&mut out));
            if written.is_err() {
                // A closed pipe (`| head`): nothing more to say.
                return exit::OK;
            }
        } else {
            let run = &status.run;
            if args.watch {
                print!("\x1b[2J\x1b[H");
            }
            match &run {
                Some(run) => println!(
                    "run {}: {} (runs: {}, updated {} ago)",
                    clean(run.owner.as_ref().map_or("-", |o| o.run_id.as_str())),
                    run.status.as_str(),
                    run.runs,
                    age(&run.updated_at)
                ),
                None => println!("never run"),
            }
            if let Some(offline) = &status.offline {
                println!(
                    "remote {} offline since {} (results are held here and pushed when it is back)",
                    clean(&offline.remote),
                    clean(&offline.since)
                );
            }
            println!("{:<6} {:<10} {:<16} {:>8} {:>6}  reason / owner", "WP", "lane", "agent", "attempts", "age");
            for state in status.wps.values() {
                let mut detail = clean(state.reason.as_deref().unwrap_or(""));
                if let Some(owner) = &state.owner {
                    let elsewhere =
                        if owner.host != here { " (another host: `release` frees it if that run is gone)" } else { "" };
                    detail = format!("held by {}{elsewhere}", clean(&owner.to_string()));
                }
                println!(
                    "{:<6} {:<10} {:<16} {:>8} {:>6}  {}",
                    state.wp,
                    state.lane,
                    clean(state.agent.as_deref().unwrap_or("-")),
                    state.attempts_total,
                    age(&state.updated_at),
                    detail
                );
            }
            for corrupt in &status.corrupt {
                println!("unreadable: {}: {}", corrupt.reference, clean(&corrupt.why));
            }
            if status.wps.is_empty() && status.corrupt.is_empty() {
                println!("(no WP has state yet: `kitty-orchestrator run {}` imports the feature)", args.target.feature);
            }
        }
        if !args.watch {
            return exit::OK;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

pub fn log(args: LogArgs) -> u8 {
    let orch = match open(&args.target, args.json) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let history = match orch.history(&args.target.feature, args.wp.as_deref()) {
        Ok(h) => h,
        Err(err) => return fail(&err, args.json),
    };
    for entry in &history {
        if args.json {
            println!("{}", serde_json::to_string(entry).expect("history serializes"));
        } else {
            println!("{} {} {}", entry.state.updated_at, &entry.commit[..10], clean(&entry.subject));
        }
    }
    if !args.json {
        let slug = history.first().map_or(args.target.feature.clone(), |h| h.state.feature.clone());
        let wp = args.wp.as_deref().unwrap_or("<WP>");
        println!("\nThe same with git: git log --format='%h %s' refs/kitty/wp/{slug}/{wp}");
    }
    exit::OK
}

/// The profile's proof per driver: the version it ran a feature end to end with, or why it
/// cannot be proven here.
fn proof(agent: &kitty_orchestrator::agents::DetectedAgent) -> String {
    if agent.id == kitty_orchestrator::ids::OPENAI_API {
        return "in process (its own tests)".into();
    }
    if agent.proven.is_empty() {
        return "-".into();
    }
    agent
        .proven
        .iter()
        .map(|p| match (&p.version, &p.not_proven) {
            (Some(version), _) => format!("{}: {version}", p.driver.as_str()),
            (None, Some(why)) => format!("{}: not proven ({why})", p.driver.as_str()),
            (None, None) => format!("{}: not proven", p.driver.as_str()),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn abort(args: AbortArgs) -> u8 {
    let orch = match open(&args.target, false) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Some(remote) = &args.remote {
        return crate::remote::abort(&orch, &args.target.feature, remote);
    }
    match orch.abort(&args.target.feature) {
        Ok(true) => {
            println!("abort requested: the running orchestrator stops its agents within moments");
            exit::OK
        }
        Ok(false) => {
            println!("no run of {} is in progress on this machine", args.target.feature);
            exit::OK
        }
        Err(err) => fail(&err, false),
    }
}

pub fn retry(args: RetryArgs) -> u8 {
    let orch = match open(&args.target, false) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match orch.retry(&args.target.feature, &args.wp) {
        Ok(state) => {
            println!(
                "{} is {} again; `kitty-orchestrator run {}` picks it up",
                state.wp, state.lane, args.target.feature
            );
            exit::OK
        }
        Err(err) => fail(&err, false),
    }
}

pub fn release(args: ReleaseArgs) -> u8 {
    let orch = match open(&args.target, false) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match orch.release(&args.target.feature, &args.wp) {
        Ok(state) => {
            println!(
                "{} released (lane {}, branch kept); `kitty-orchestrator run {}` picks it up",
                state.wp, state.lane, args.target.feature
            );
            exit::OK
        }
        Err(err) => fail(&err, false),
    }
}

pub fn agents(args: AgentsArgs) -> u8 {
    let config = match kitty_orchestrator::Config::load(&args.repo) {
        Ok(c) => c,
        Err(err) => return fail(&err.into(), args.json),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let found = runtime.block_on(kitty_orchestrator::agents::detect(&config));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found).expect("serializable"));
        return exit::OK;
    }
    let sandbox = kitty_orchestrator::sandbox::support();
    match (&sandbox.why_not, config.sandbox) {
        (_, kitty_orchestrator::sandbox::SandboxMode::Off) => println!("sandbox: off (agents run unconfined)"),
        (None, _) => println!("sandbox: landlock ({})", sandbox.status),
        (Some(why), mode) => {
            println!("sandbox: unavailable ({why}); sandbox = {mode:?}: agents run unconfined or are refused")
        }
    }
    println!(
        "{:<18} {:<8} {:<6} {:<16} {:<30} proven end to end with",
        "agent", "kind", "driver", "program", "installed"
    );
    for a in &found {
        let installed = match (&a.path, &a.version, &a.why_not) {
            (_, _, Some(why)) => format!("no: {why}"),
            (_, Some(v), None) => v.clone(),
            (Some(p), None, None) => p.display().to_string(),
            (None, None, None) => "not found".into(),
        };
        let kind = if a.builtin { "built-in" } else { "custom" };
        let enabled = if a.enabled { "" } else { " (disabled)" };
        println!(
            "{:<18} {:<8} {:<6} {:<16} {:<30} {}",
            format!("{}{enabled}", a.id),
            kind,
            a.driver.as_str(),
            a.program,
            installed,
            proof(a)
        );
    }
    exit::OK
}
