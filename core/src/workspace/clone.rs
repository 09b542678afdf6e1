//! `run --clone URL`: clone into `<dir>/<name>` through the `git` binary, or reuse that clone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::WorkspaceError;
use super::name::{mask, repo_name, same_url};
use crate::redact::Redactor;
use crate::remote::{GitOutput, run_program};

/// What to clone and where.
#[derive(Debug, Clone)]
pub struct CloneOptions {
    /// The repository URL (anything `git clone` takes).
    pub url: String,
    /// The directory workspaces live in (see [`default_workspace_dir`]).
    pub workspace_dir: PathBuf,
    /// The branch to run on; `None`: the clone's configured `target_branch`, else the remote's
    /// default branch.
    pub branch: Option<String>,
    /// Longest a clone or fetch may take.
    pub timeout: Duration,
}

impl CloneOptions {
    /// Clones `url` into `workspace_dir` with a one-hour limit.
    pub fn new(url: impl Into<String>, workspace_dir: impl Into<PathBuf>) -> CloneOptions {
        CloneOptions {
            url: url.into(),
            workspace_dir: workspace_dir.into(),
            branch: None,
            timeout: Duration::from_secs(3600),
        }
    }
}

/// The workspace a feature runs in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Cloned {
    /// Its name (the repository's).
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// It existed (same origin) and was reused.
    pub reused: bool,
    /// The branch checked out.
    pub branch: Option<String>,
    /// Problems it went on after (a fetch that failed, a branch that could not fast-forward).
    pub warnings: Vec<String>,
}

/// The file (in a workspace's git directory) that says `run --clone` made it: `workspaces list`
/// shows these, not every repository that happens to sit in the same directory.
pub(super) const MARKER: &str = "kitty/workspace";

/// Marks the clone at `path` as a workspace of `url` (credentials masked).
fn mark_as_workspace(path: &Path, url: &str) -> std::io::Result<()> {
    let marker = path.join(".git").join(MARKER);
    if let Some(dir) = marker.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(marker, format!("cloned by kitty-orchestrator from {}\n", mask(url)))
}

/// Where workspaces go without `--workspace-dir`: `KITTY_WORKSPACE_DIR`, else the current
/// directory (as `git clone URL` clones into `./<name>`).
pub fn default_workspace_dir() -> PathBuf {
    std::env::var_os("KITTY_WORKSPACE_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Clones `options.url` into `<workspace_dir>/<repo name>` and checks out the branch to run on;
/// reuses the workspace when it is a clone of the same URL. A failed clone leaves nothing.
pub async fn clone_workspace(options: &CloneOptions, cancel: &CancellationToken) -> Result<Cloned, WorkspaceError> {
    let name = repo_name(&options.url)?;
    let dir = &std::path::absolute(&options.workspace_dir).map_err(WorkspaceError::io(&options.workspace_dir))?;
    let dest = dir.join(&name);
    if dest.exists() && !is_empty_dir(&dest) {
        return reuse(options, name, dest, cancel).await;
    }
    let created_dir = !dir.exists();
    std::fs::create_dir_all(dir).map_err(WorkspaceError::io(dir))?;
    let staging = dir.join(format!(".{name}.clone-{}", std::process::id()));
    let result = fresh_clone(options, dir, &staging, &dest, cancel).await;
    if let Err(err) = &result {
        tracing::warn!(url = %mask(&options.url), %err, "clone failed; removing what it left");
        let _ = std::fs::remove_dir_all(&staging);
        if created_dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
    let branch = result?;
    Ok(Cloned { name, path: dest, reused: false, branch, warnings: Vec::new() })
}

/// Clones into `staging`, checks out the branch, then renames it to `dest`.
async fn fresh_clone(
    options: &CloneOptions,
    dir: &Path,
    staging: &Path,
    dest: &Path,
    cancel: &CancellationToken,
) -> Result<Option<String>, WorkspaceError> {
    let url = &options.url;
    let _ = std::fs::remove_dir_all(staging);
    let mut args = vec!["clone".to_string(), "--quiet".to_string()];
    if let Some(branch) = &options.branch {
        args.extend(["--branch".to_string(), branch.clone()]);
    }
    args.extend(["--".to_string(), url.clone(), staging.display().to_string()]);
    let failed = |why: String| WorkspaceError::CloneFailed { url: mask(url), dir: dir.to_path_buf(), why };
    let out = git(dir, &args, options.timeout, cancel).await.map_err(failed)?;
    if !out.success() {
        return Err(failed(out.why()));
    }
    let branch = check_out_target(staging, options.branch.as_deref(), options.timeout, cancel).await?;
    mark_as_workspace(staging, url).map_err(WorkspaceError::io(staging.join(".git").join(MARKER)))?;
    if dest.exists() {
        // An empty directory of that name: the clone takes its place.
        std::fs::remove_dir(dest).map_err(WorkspaceError::io(dest))?;
    }
    std::fs::rename(staging, dest).map_err(WorkspaceError::io(dest))?;
    Ok(branch)
}

/// Reuses `dest` when it is a clone of the same URL: fetched, the branch checked out and
/// fast-forwarded when its checkout is clean.
async fn reuse(
    options: &CloneOptions,
    name: String,
    dest: PathBuf,
    cancel: &CancellationToken,
) -> Result<Cloned, WorkspaceError> {
    let url = &options.url;
    let repo = match git2::Repository::open(&dest) {
        Ok(repo) if repo.workdir().is_some_and(|w| same_dir(w, &dest)) => repo,
        _ => return Err(WorkspaceError::NotAClone { path: dest, url: mask(url) }),
    };
    let existing = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(str::to_string)).unwrap_or_default();
    if !same_url(&existing, url) {
        return Err(WorkspaceError::OtherOrigin { path: dest, existing: mask(&existing), url: mask(url) });
    }
    drop(repo);
    mark_as_workspace(&dest, url).map_err(WorkspaceError::io(dest.join(".git").join(MARKER)))?;
    let mut warnings = Vec::new();
    let fetch = ["fetch", "--quiet", "--prune", "origin"].map(String::from);
    match git(&dest, &fetch, options.timeout, cancel).await {
        Ok(out) if out.success() => {}
        Ok(out) => {
            warnings.push(format!("fetching {} failed, running on what the clone has: {}", mask(url), out.why()))
        }
        Err(why) => warnings.push(format!("fetching {} failed, running on what the clone has: {why}", mask(url))),
    }
    let branch = check_out_target(&dest, options.branch.as_deref(), options.timeout, cancel).await?;
    if let Some(warning) = fast_forward(&dest, options.timeout, cancel).await {
        warnings.push(warning);
    }
    Ok(Cloned { name, path: dest, reused: true, branch, warnings })
}

/// Checks out `branch`, else the clone's configured `target_branch` when it has one; returns the
/// branch checked out.
async fn check_out_target(
    path: &Path,
    branch: Option<&str>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Option<String>, WorkspaceError> {
    let wanted = match branch {
        Some(b) => Some(b.to_string()),
        // An invalid configuration is reported by the run itself, naming the key.
        None => crate::Config::load(path).ok().and_then(|c| c.target_branch),
    };
    let current = current_branch(path);
    let Some(wanted) = wanted else { return Ok(current) };
    if current.as_deref() == Some(wanted.as_str()) {
        return Ok(current);
    }
    // `switch` makes a local branch tracking origin's when there is none yet.
    let args = ["switch".to_string(), "--quiet".to_string(), wanted.clone()];
    let checkout = |why: String| WorkspaceError::Checkout { path: path.to_path_buf(), branch: wanted.clone(), why };
    let out = git(path, &args, timeout, cancel).await.map_err(checkout)?;
    if !out.success() {
        return Err(checkout(out.why()));
    }
    Ok(Some(wanted))
}

/// Fast-forwards the checked-out branch to its upstream when the checkout is clean; a warning
/// when it cannot (diverged, uncommitted files).
async fn fast_forward(path: &Path, timeout: Duration, cancel: &CancellationToken) -> Option<String> {
    let status = git(path, &["status".to_string(), "--porcelain".to_string()], timeout, cancel).await.ok()?;
    let upstream = ["rev-parse", "--verify", "--quiet", "@{upstream}"].map(String::from);
    if !git(path, &upstream, timeout, cancel).await.ok()?.success() {
        return None;
    }
    if !status.stdout.trim().is_empty() {
        return Some(format!("{} has uncommitted changes, so it was not updated from its upstream", path.display()));
    }
    let merge = ["merge", "--ff-only", "--quiet", "@{upstream}"].map(String::from);
    match git(path, &merge, timeout, cancel).await {
        Ok(out) if out.success() => None,
        Ok(out) => Some(format!("{} could not fast-forward to its upstream: {}", path.display(), out.why())),
        Err(why) => Some(format!("{} could not fast-forward to its upstream: {why}", path.display())),
    }
}

/// The branch HEAD names (`None`: detached or unborn).
pub(super) fn current_branch(path: &Path) -> Option<String> {
    let repo = git2::Repository::open(path).ok()?;
    let head = repo.head().ok()?;
    if head.is_branch() { head.shorthand().ok().map(str::to_string) } else { None }
}

/// `git -C <dir> <args>` with prompts off (stdin is not a terminal; a prompt would only hang).
async fn git(dir: &Path, args: &[String], timeout: Duration, cancel: &CancellationToken) -> Result<GitOutput, String> {
    let redactor = Redactor::from_env(&[]);
    let mut argv = vec!["-C".to_string(), dir.display().to_string()];
    argv.extend(args.iter().cloned());
    let shown = redactor.apply(&format!("git {}", args.join(" ")));
    let env = [("GIT_TERMINAL_PROMPT".to_string(), "0".to_string())];
    run_program(Path::new("git"), &argv, None, &env, shown, timeout, cancel, &redactor).await.map_err(|e| e.to_string())
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
