//! `init`: a commented `.kittify/orchestrator.toml` for the agents found on this machine.

use std::path::PathBuf;

use kitty_orchestrator::config::CONFIG_PATH;

use crate::exit;

#[derive(clap::Args)]
pub struct InitArgs {
    /// The repository (default: the current directory).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Replace an existing configuration file.
    #[arg(long)]
    force: bool,
}

pub fn init(args: InitArgs) -> u8 {
    let path = args.repo.join(CONFIG_PATH);
    if path.exists() && !args.force {
        eprintln!("error: {} exists; use --force to replace it", path.display());
        return exit::BAD_INPUT;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let found = runtime.block_on(kitty_orchestrator::agents::detect(&kitty_orchestrator::Config::default()));
    let installed: Vec<String> = found.iter().filter(|a| a.usable()).map(|a| format!("\"{}\"", a.id)).collect();
    let missing: Vec<&str> = found.iter().filter(|a| !a.usable()).map(|a| a.id.as_str()).collect();
    let list = if installed.is_empty() {
        "[]  # no agent CLI found on PATH: install one".to_string()
    } else {
        format!("[{}]", installed.join(", "))
    };
    let review = if installed.len() > 1 {
        format!("[{}]", installed.iter().skip(1).chain(installed.first()).cloned().collect::<Vec<_>>().join(", "))
    } else {
        list.clone()
    };
    // The values shown are the defaults, from the one place they are written.
    let defaults = kitty_orchestrator::Config::default();
    let fallback = serde_json::to_value(defaults.fallback_strategy)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let text = format!(
        r#"# kitty-orchestrator configuration (written by `kitty-orchestrator init`).
# Every key is optional; the values shown are the defaults unless noted.

# WPs in flight at once (1-64).
max_concurrent_wps = {max_concurrent_wps}
# Retries of the same agent after a failed attempt (0-20).
max_retries = {max_retries}
# Wall-clock limit of one agent run, and the limit without any output, in seconds.
timeout_seconds = {timeout_seconds}
idle_timeout_seconds = {idle_timeout_seconds}
# One agent implements and reviews.
single_agent_mode = {single_agent_mode}
# After the retries: "next_available" agent, "same_agent" once more, or "fail" (block the WP).
fallback_strategy = "{fallback_strategy}"
# Review rejections before a WP is blocked (1-20).
max_review_cycles = {max_review_cycles}
# Branch WPs without dependencies start from (default: meta.json, else the current branch).
# target_branch = "main"
worktree_dir = "{worktree_dir}"
# Commit what an agent leaves uncommitted (never secret-looking files such as .env or *.pem,
# nor what .worktreeinclude copies).
auto_commit = {auto_commit}
# More paths auto-commit must never commit (gitignore syntax).
# auto_commit_exclude = ["*.secret"]
# Run on the merge of all WP branches (argv, no shell): at the end of a run, and by `merge`
# before the target branch moves.
# verify_command = ["cargo", "test"]
# Agent rounds `merge` gives a failing verify_command to fix it before nothing lands (0-10).
max_fix_rounds = {max_fix_rounds}
# Run in each new worktree before its agent starts (its own process group, the same timeouts
# as agents, output redacted in .kittify/logs/<feature>/<WP>-setup.log).
# setup_command = ["npm", "install"]
# How `kitty-orchestrator merge` lands each WP on the target branch: "merge" (one merge commit
# per WP, its commits kept) or "squash" (one commit per WP with exactly its own changes).
merge_strategy = "{merge_strategy}"
# `merge` gives conflicts to an implementation agent (its resolution checked) instead of stopping.
resolve_conflicts = {resolve_conflicts}
# Where `push` and `merge --push` go, and whether `merge` pushes what landed.
push_remote = "{push_remote}"
auto_push = {auto_push}
# `merge` opens (or updates) the landed branch's pull request (GitHub: gh, else GITHUB_TOKEN).
auto_pr = {auto_pr}
# A run that completes ends with `merge` (then auto_push / auto_pr).
auto_merge = {auto_merge}
# Kiro specs and task lists: tick a task's box in its file when its WP is done.
tick_tasks = {tick_tasks}
# A WP finished in this run hands its worktree to the next WP (only what differs is checked out).
recycle_worktrees = {recycle_worktrees}
# After landing: remove the landed WPs' "worktrees" (uncommitted work saved to a backup ref
# first), "worktrees+branches", or "none".
cleanup = "{cleanup}"
# WP branch names: {{feature}}, {{wp}}, {{number}}, {{title}} (slugified).
branch_template = "{branch_template}"
# Subjects of the commits kitty-orchestrator writes: {{feature}} {{wp}} {{scope}} {{number}} {{title}} {{description}}.
# commit_template = "spirit({{scope}}): {{description}}"
# Lane changes mirrored into spec-kitty's own files: "commit", "write" or "off". Default by
# layout, in spec-kitty projects: commit (3.x missions in their coordination worktree, 2.x flat
# WP files), write (pre-0.9 lane directories).
# mirror = "commit"

[agents]
# Found on this machine, in preference order. Not found: {missing}.
implementation = {list}
review = {review}

# Per-agent settings, e.g.:
# [agents.codex]
# enabled = true
# max_concurrent = 2
# timeout_seconds = 1800
# model = "gpt-5-codex"
# extra_args = []
# env = {{ CODEX_HOME = "/path" }}

# A custom agent: any command that works in its current directory.
# [agents.my-agent]
# command = ["my-agent", "--headless"]
# prompt = "stdin"      # or "arg", "file"
# output = "text"       # or "json", "stream-json", "codex-jsonl", "opencode-jsonl"
"#,
        missing = if missing.is_empty() { "none".to_string() } else { missing.join(", ") },
        max_concurrent_wps = defaults.max_concurrent_wps,
        max_retries = defaults.max_retries,
        timeout_seconds = defaults.timeout_seconds,
        idle_timeout_seconds = defaults.idle_timeout_seconds,
        single_agent_mode = defaults.single_agent_mode,
        fallback_strategy = fallback,
        max_review_cycles = defaults.max_review_cycles,
        worktree_dir = defaults.worktree_dir.display(),
        auto_commit = defaults.auto_commit,
        merge_strategy = defaults.merge_strategy,
        max_fix_rounds = defaults.max_fix_rounds,
        resolve_conflicts = defaults.resolve_conflicts,
        push_remote = defaults.push_remote,
        auto_push = defaults.auto_push,
        auto_pr = defaults.auto_pr,
        auto_merge = defaults.auto_merge,
        tick_tasks = defaults.tick_tasks,
        recycle_worktrees = defaults.recycle_worktrees,
        cleanup = defaults.cleanup.as_str(),
        branch_template = defaults.branch_template.as_str(),
    );
    if let Err(err) = kitty_orchestrator::Config::from_toml_str(&text, &path) {
        eprintln!("internal error: the generated configuration is invalid: {err}");
        return exit::INTERNAL;
    }
    if let Some(dir) = path.parent()
        && let Err(err) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: {}: {err}", dir.display());
        return exit::INTERNAL;
    }
    match std::fs::write(&path, text) {
        Ok(()) => {
            println!("wrote {} ({} agent(s) found)", path.display(), installed.len());
            exit::OK
        }
        Err(err) => {
            eprintln!("error: {}: {err}", path.display());
            exit::INTERNAL
        }
    }
}
