//! Turning events and summaries into lines for people (or JSON lines for scripts).

use kitty_orchestrator::engine::{Event, Plan, RunSummary};

/// Text from agents or state, made safe for a terminal: control characters (escape sequences,
/// carriage returns, bells) and invisible bidirectional overrides become `?` or a space, so an
/// agent's output can never move the cursor, rewrite the screen or hide what it says.
pub fn clean(text: &str) -> String {
    kitty_orchestrator::display::one_line(text, '?')
}

/// One line for an event, or `None` for events not shown in plain mode.
pub fn event_line(event: &Event) -> Option<String> {
    let time = jiff::Zoned::now().strftime("%H:%M:%S").to_string();
    let text = match event {
        Event::RunStarted { feature, run_id, wps, done } => {
            format!("run {run_id} started on {feature}: {wps} WPs, {done} already done")
        }
        Event::LaneChanged { wp, from_lane: from, to_lane: to, agent, .. } => match agent {
            Some(agent) => format!("{wp} {from} -> {to} ({agent})"),
            None => format!("{wp} {from} -> {to}"),
        },
        Event::AgentStarted { wp, agent, role, attempt, pid, log, .. } => {
            let pid = pid.map(|p| format!(", pid {p}")).unwrap_or_default();
            format!("{wp} {} by {agent} (attempt {attempt}{pid}); log {log}", role.as_str())
        }
        Event::AgentFinished { wp, agent, role, attempt, success, summary, duration_ms, cost_usd, .. } => {
            let cost = cost_usd.filter(|c| *c > 0.0).map(|c| format!(", ${c:.4}")).unwrap_or_default();
            let verb = if *success { "succeeded" } else { "failed" };
            format!(
                "{wp} {} by {agent} {verb} (attempt {attempt}, {:.1} s{cost}){}",
                role.as_str(),
                *duration_ms as f64 / 1000.0,
                if *success { String::new() } else { format!(": {summary}") }
            )
        }
        Event::RetryScheduled { wp, agent, attempt, delay_ms, failure, .. } => {
            format!("{wp} retry after {failure}: attempt {attempt} by {agent} in {:.1} s", *delay_ms as f64 / 1000.0)
        }
        Event::WpBlocked { wp, reason, .. } => format!("{wp} BLOCKED: {reason}"),
        Event::AgentOutput { wp, line, .. } => format!("{wp} | {line}"),
        Event::AgentActivity { wp, activity, .. } => format!("{wp} | {}", activity.describe()),
        Event::MergeVerified { round, passed, fix_agent, log, .. } => {
            let after = match (round, fix_agent) {
                (0, _) => "before any fix".to_string(),
                (n, Some(agent)) => format!("after fix round {n} by {agent}"),
                (n, None) => format!("after fix round {n}"),
            };
            format!("merge verification {} {after}; log {log}", if *passed { "passed" } else { "FAILED" })
        }
        Event::MergeResolved { wp, agent, paths, .. } => {
            format!("merge conflict of {wp} in {} resolved by {agent}", paths.join(", "))
        }
        Event::Merged { target, commit, wps, .. } => {
            format!("merged {} into {target} ({})", wps.join(", "), commit.chars().take(10).collect::<String>())
        }
        Event::RunFinished { .. } => return None,
    };
    Some(format!("{time} {}", clean(&text)))
}

/// The summary table printed at the end of a run.
pub fn summary_table(summary: &RunSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\n{:<6} {:<10} {:<9} {:>5} {:>7} {:>9}  {}\n",
        "WP", "lane", "attempts", "revs", "time", "cost", "agents / reason"
    ));
    for wp in &summary.wps {
        let mut detail = match (&wp.facts.reason, &wp.owner) {
            (Some(reason), _) => reason.clone(),
            (None, Some(owner)) => format!("held by {owner} (`kitty-orchestrator release` frees it)"),
            (None, None) => wp.facts.agents.join(", "),
        };
        if !wp.withheld.is_empty() {
            detail.push_str(&format!(" [not committed: {}]", wp.withheld.join(", ")));
        }
        if let Some(first) = wp.refused.first() {
            detail.push_str(&format!(" [sandbox refused {} write(s), first: {first}]", wp.refused.len()));
        }
        let detail = clean(&detail);
        out.push_str(&format!(
            "{:<6} {:<10} {:>8} {:>5} {:>6.1}s {:>9}  {}\n",
            wp.facts.id,
            wp.facts.lane,
            wp.facts.attempts,
            wp.facts.review_cycles,
            wp.facts.agent_ms as f64 / 1000.0,
            if wp.facts.cost_usd > 0.0 { format!("${:.4}", wp.facts.cost_usd) } else { "-".into() },
            detail
        ));
    }
    for warning in &summary.warnings {
        out.push_str(&format!("\nwarning: {}\n", clean(warning)));
    }
    for corrupt in &summary.corrupt {
        out.push_str(&format!("\nunreadable state {}: {}\n", corrupt.reference, clean(&corrupt.why)));
    }
    if let Some(verify) = &summary.verify {
        out.push_str(&format!(
            "\nverify `{}`: {} (log {})\n",
            verify.command.join(" "),
            if verify.success { "passed".to_string() } else { format!("FAILED (exit {:?})", verify.exit_code) },
            verify.log
        ));
    }
    out.push_str(&format!(
        "\n{:?}: {} done, {} blocked, {} remaining, in {:.1} s{}\n",
        summary.outcome,
        summary.done,
        summary.blocked,
        summary.remaining,
        summary.duration_ms as f64 / 1000.0,
        if summary.cost_usd > 0.0 { format!(", ${:.4}", summary.cost_usd) } else { String::new() }
    ));
    if let Some(merge) = &summary.merge {
        out.push('\n');
        out.push_str(&merge_report(merge));
    }
    if let Some(err) = &summary.merge_error {
        out.push_str(&format!("\nmerge FAILED ({}): {}\n", err.code, clean(&err.message)));
    }
    out
}

/// The dry-run plan.
pub fn plan(plan: &Plan) -> String {
    let mut out = format!(
        "plan for {}: {} WPs, up to {} at once, target branch {}\nimplementation agents: {}\nreview agents: {}\n\n",
        plan.feature,
        plan.wps.len(),
        plan.max_concurrent,
        plan.target_branch,
        plan.implementation_agents.join(", "),
        plan.review_agents.join(", ")
    );
    for (i, wp) in plan.wps.iter().enumerate() {
        out.push_str(&format!("{:>3}. {} {} [{}]\n", i + 1, wp.id, wp.title, wp.lane));
        if matches!(wp.lane, kitty_orchestrator::Lane::Done | kitty_orchestrator::Lane::Canceled) {
            out.push_str("       nothing to do\n");
            continue;
        }
        let deps = if wp.dependencies.is_empty() { "-".to_string() } else { wp.dependencies.join(", ") };
        out.push_str(&format!("       after: {deps}; base: {}\n", wp.base));
        out.push_str(&format!("       implement: {}\n", wp.implementation_argv.join(" ")));
        out.push_str(&format!("       review:    {}\n", wp.review_argv.join(" ")));
    }
    out
}

/// What a merge did (or would do), one line per WP.
pub fn merge_report(report: &kitty_orchestrator::engine::MergeReport) -> String {
    use kitty_orchestrator::engine::MergeOutcome;
    use kitty_orchestrator::land::StepAction;
    let short = |c: &Option<String>| c.as_deref().map_or_else(|| "-".to_string(), |c| c.chars().take(10).collect());
    let mut out = format!("{} -> {} ({}):\n", report.feature, report.target, report.strategy);
    let dry = report.outcome == MergeOutcome::DryRun;
    for step in &report.steps {
        let what = match &step.action {
            StepAction::Merge if dry => format!("would merge {}", step.branch.clone().unwrap_or_default()),
            StepAction::Merge => format!("merged as {}", short(&step.commit)),
            StepAction::AlreadyMerged => "already on the target".to_string(),
            StepAction::InTarget => "done without a branch: already on the target".to_string(),
            StepAction::NoChanges => "NO CHANGES of its own on its branch: nothing to land".to_string(),
            StepAction::NotDone { lane } => format!("not done ({lane}): left out"),
            StepAction::Excluded { because } => format!("left out: depends on {because}, which does not land"),
            StepAction::Conflicts => "CONFLICTS (below)".to_string(),
            StepAction::AfterConflict { because } => format!("not tried: depends on {because}, which conflicts"),
        };
        out.push_str(&format!("  {:<6} {}  {}\n", step.wp, clean(&what), clean(&step.title)));
    }
    for r in &report.resolutions {
        out.push_str(&format!(
            "  resolved: {} with {} in {} by {}\n",
            r.wp,
            r.with.join(" and "),
            clean(&r.paths.join(", ")),
            clean(&r.agent)
        ));
    }
    for c in &report.conflicts {
        out.push_str(&format!(
            "  conflict: {} with {} in {}\n",
            c.wp,
            c.with.join(" and "),
            clean(&c.paths.join(", "))
        ));
    }
    for c in &report.cleanup {
        let mut did = Vec::new();
        if c.worktree_removed {
            did.push("worktree removed".to_string());
        }
        if let Some(b) = &c.backup {
            did.push(format!("uncommitted work saved in {}", clean(b)));
        }
        if c.branch_deleted {
            did.push("branch deleted".to_string());
        }
        if let Some(k) = &c.kept_as {
            did.push(format!("tip kept as {}", clean(k)));
        }
        if let Some(n) = &c.note {
            did.push(clean(n));
        }
        out.push_str(&format!("  cleanup {}: {}\n", c.wp, did.join("; ")));
        for fate in ["saved", "moved_aside", "too_large", "build_output"] {
            let paths: Vec<String> = c.ignored.iter().filter(|i| i.fate == fate).map(|i| clean(&i.path)).collect();
            if !paths.is_empty() {
                let what = match fate {
                    "saved" => "saved in the backup",
                    "moved_aside" => "moved aside (secret-looking) under .git/kitty/withheld/",
                    "too_large" => "DROPPED: over the size cap",
                    _ => "dropped: build output",
                };
                let shown = if paths.len() > 8 {
                    format!("{} and {} more", paths[..8].join(", "), paths.len() - 8)
                } else {
                    paths.join(", ")
                };
                out.push_str(&format!("    ignored files {what}: {shown}\n"));
            }
        }
    }
    for warning in &report.warnings {
        out.push_str(&format!("  warning: {}\n", clean(warning)));
    }
    let landed = report.merged().len();
    if let Some(verify) = report.verify.as_ref().filter(|v| v.passed) {
        out.push_str(&format!(
            "  verified: `{}` passed after {} fix round(s)\n",
            clean(&verify.command.join(" ")),
            verify.fix_rounds
        ));
    }
    let pushed = match (&report.pushed, &report.push_error) {
        (Some(p), _) => push_report(p),
        (None, Some(err)) => format!("push FAILED ({}): {}\n", err.code, clean(&err.message)),
        (None, None) => String::new(),
    };
    let pushed = match (&report.pull_request, &report.pr_error) {
        (Some(pr), _) => format!(
            "{pushed}pull request #{} {}: {}\n",
            pr.pull_request.number,
            if pr.created { "opened" } else { "updated" },
            clean(&pr.pull_request.url)
        ),
        (None, Some(err)) => format!("{pushed}pull request FAILED ({}): {}\n", err.code, clean(&err.message)),
        (None, None) => pushed,
    };
    out.push_str(&match report.outcome {
        MergeOutcome::Merged => format!(
            "{}: {} -> {} ({landed} WP(s) landed){}\n",
            report.target,
            short(&report.previous),
            short(&report.commit),
            report.worktree_updated.as_ref().map(|w| format!("; {} brought along", clean(w))).unwrap_or_default()
        ),
        MergeOutcome::NothingToMerge => {
            format!("{}: nothing to merge, every done WP is on it already\n", report.target)
        }
        MergeOutcome::VerifyFailed => {
            let verify = report.verify.as_ref();
            format!(
                "NOT LANDED: `{}` still fails after {} fix round(s){}; see {}; the integration is kept in {}\n",
                verify.map(|v| v.command.join(" ")).unwrap_or_default(),
                verify.map_or(0, |v| v.fix_rounds),
                verify.and_then(|v| v.note.as_ref()).map(|n| format!(" ({})", clean(n))).unwrap_or_default(),
                verify.map(|v| clean(&v.log)).unwrap_or_default(),
                report.integration_worktree.as_deref().map(clean).unwrap_or_default()
            )
        }
        MergeOutcome::DryRun if report.conflicts.is_empty() => {
            format!("dry run: {landed} WP(s) would land cleanly; nothing was changed\n")
        }
        MergeOutcome::DryRun => {
            format!("dry run: {} conflict(s) would stop the merge; nothing was changed\n", report.conflicts.len())
        }
    });
    out.push_str(&pushed);
    out
}

/// What a push did, one line per ref.
pub fn push_report(report: &kitty_orchestrator::remote::PushReport) -> String {
    use kitty_orchestrator::remote::PushStatus;
    let mut out = format!("pushed to {}:\n", clean(&report.remote));
    for r in &report.refs {
        let short = |c: &str| c.chars().take(10).collect::<String>();
        let what = match r.status {
            PushStatus::Created => format!("created at {}", short(&r.new)),
            PushStatus::Updated => format!("{} -> {}", short(r.old.as_deref().unwrap_or("")), short(&r.new)),
            PushStatus::UpToDate => "up to date".to_string(),
        };
        out.push_str(&format!("  {}  {what}\n", clean(&r.reference)));
    }
    out
}

/// `workspaces list`: one block per workspace, one line per feature with its progress.
pub fn workspaces(dir: &std::path::Path, list: &[kitty_orchestrator::workspace::Workspace]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if list.is_empty() {
        let _ = writeln!(out, "no workspaces in {} (`run --clone URL FEATURE` makes one)", dir.display());
        return out;
    }
    for ws in list {
        let origin = ws.origin.as_deref().map(clean).unwrap_or_else(|| "(no origin)".into());
        let branch = ws.branch.as_deref().map(clean).unwrap_or_else(|| "(detached)".into());
        let _ = writeln!(out, "{}  {}  {}  {}", clean(&ws.name), origin, branch, ws.path.display());
        if let Some(problem) = &ws.problem {
            let _ = writeln!(out, "  problem: {}", clean(problem));
        }
        if ws.features.is_empty() {
            let _ = writeln!(out, "  no features");
        }
        for f in &ws.features {
            let run = f.run.as_deref().map(|r| format!(", last run {r}")).unwrap_or_default();
            let lanes: Vec<String> =
                f.lanes.iter().filter(|(l, _)| *l != "done").map(|(l, n)| format!("{n} {l}")).collect();
            let lanes = if lanes.is_empty() { String::new() } else { format!(" ({})", lanes.join(", ")) };
            let _ = writeln!(out, "  {}: {}/{} done{lanes}{run}", clean(&f.feature), f.done, f.wps);
            if let Some(problem) = &f.problem {
                let _ = writeln!(out, "    problem: {}", clean(problem));
            }
        }
    }
    out
}

/// How long ago `timestamp` (RFC 3339) was, shortly: `42s`, `3m`, `2h`, `5d` (`?` unreadable).
pub fn age(timestamp: &str) -> String {
    let Ok(then) = timestamp.parse::<jiff::Timestamp>() else { return "?".into() };
    let secs = jiff::Timestamp::now().duration_since(then).as_secs().max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}
