//! `status --remote` and `abort --remote`: a shared feature as its remote has it.

use kitty_orchestrator::Orchestrator;

use crate::render::{age, clean};
use crate::{exit, fail};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime starts")
}

/// The board on `remote`: each WP's lane, holder and that machine's heartbeat age.
pub fn status(orch: &Orchestrator, feature: &str, remote: &str, json: bool, watch: bool) -> u8 {
    let rt = runtime();
    loop {
        let status = match rt.block_on(orch.status_remote(feature, Some(remote))) {
            Ok(s) => s,
            Err(err) => return fail(&err, json),
        };
        if json {
            let wps: Vec<_> = status.wps.values().collect();
            let doc = serde_json::json!({
                "remote": status.remote, "feature": status.feature, "wps": wps, "corrupt": status.corrupt,
                "hosts": status.hosts, "abort_requested": status.abort_requested,
            });
            println!("{doc}");
        } else {
            if watch {
                print!("\x1b[2J\x1b[H");
            }
            println!("{} on remote {}", status.feature, clean(&status.remote));
            println!("{:<6} {:<10} {:<20} {:>8} {:>6}  heartbeat", "WP", "lane", "host", "attempts", "age");
            for state in status.wps.values() {
                let host = state.owner.as_ref().map(|o| o.host.as_str());
                let beat = match host.and_then(|h| status.host(h)) {
                    Some(h) => format!("{}s ago", h.age_seconds.max(0)),
                    None if host.is_some() => "none on the remote".into(),
                    None => String::new(),
                };
                println!(
                    "{:<6} {:<10} {:<20} {:>8} {:>6}  {}",
                    state.wp,
                    state.lane,
                    clean(host.unwrap_or("-")),
                    state.attempts_total,
                    age(&state.updated_at),
                    beat
                );
            }
            for host in &status.hosts {
                println!(
                    "machine {}: heartbeat {}s ago (run {})",
                    clean(&host.host),
                    host.age_seconds.max(0),
                    clean(host.run_id.as_deref().unwrap_or("?"))
                );
            }
            for corrupt in &status.corrupt {
                println!("unreadable: {}: {}", corrupt.reference, clean(&corrupt.why));
            }
            if let Some(abort) = &status.abort_requested {
                println!("last abort requested: {}", clean(abort));
            }
            if status.wps.is_empty() {
                println!("(the remote has no WP chains of {feature} yet)");
            }
        }
        if !watch {
            return exit::OK;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

/// Records the abort on `remote`; a run here is aborted at once as well.
pub fn abort(orch: &Orchestrator, feature: &str, remote: &str) -> u8 {
    match runtime().block_on(orch.abort_remote(feature, Some(remote))) {
        Ok(done) => {
            println!(
                "abort recorded on remote {} ({}): every machine's run of {feature} stops its agents at its next look at the remote{}",
                clean(&done.remote),
                &done.request[..done.request.len().min(10)],
                if done.local_run { "; the run on this machine was signalled now" } else { "" }
            );
            exit::OK
        }
        Err(err) => fail(&err, false),
    }
}
