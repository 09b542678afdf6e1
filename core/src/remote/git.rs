//! The `git` binary for network operations, so that the user's credential helpers, SSH agent,
//! proxies and `insteadOf` rules work exactly as with `git push`: argv, never a shell; its own
//! process group (ssh and credential helpers end with it); a time limit and cancellation;
//! output redacted before anyone sees it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::error::RemoteError;
use crate::redact::Redactor;

/// What a git command printed, redacted.
#[derive(Debug, Clone)]
pub struct GitOutput {
    /// Its exit code (`None`: ended by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl GitOutput {
    /// Exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last lines of stderr, for an error message.
    pub fn why(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(6)..].join(" / ")
    }
}

/// Runs `git -C <repo> <args>` with the user's environment; stdin closed. Ends its whole process
/// group on `timeout` or `cancel`.
pub async fn run_git(
    repo: &Path,
    args: &[String],
    timeout: Duration,
    cancel: &CancellationToken,
    redactor: &Redactor,
) -> Result<GitOutput, RemoteError> {
    let mut argv = vec!["-C".to_string(), repo.display().to_string()];
    argv.extend(args.iter().cloned());
    let shown = redactor.apply(&format!("git {}", args.join(" ")));
    run_program(Path::new("git"), &argv, None, &[], shown, timeout, cancel, redactor).await
}

/// Runs `program args` (argv, no shell) in `cwd` with the user's environment plus `env`; stdin
/// closed; its own process group, ended on `timeout` or `cancel`. `shown` is how errors name it.
#[allow(clippy::too_many_arguments)]
pub async fn run_program(
    program: &Path,
    args: &[String],
    cwd: Option<&Path>,
    env: &[(String, String)],
    shown: String,
    timeout: Duration,
    cancel: &CancellationToken,
    redactor: &Redactor,
) -> Result<GitOutput, RemoteError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd).env("PWD", cwd);
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.process_group(0).kill_on_drop(true);
    crate::executor::die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| RemoteError::Spawn { command: shown.clone(), source: e })?;
    let pgid = child.id().map(|p| p as i32);
    let (mut out, mut err) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
    let read = async {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let _ = tokio::join!(out.read_to_end(&mut o), err.read_to_end(&mut e));
        let status = child.wait().await;
        (status, o, e)
    };
    let end = |why: &str| {
        if let Some(pgid) = pgid {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
        }
        tracing::warn!(command = %shown, why, "ended a command");
    };
    let (status, stdout, stderr) = tokio::select! {
        done = read => done,
        _ = tokio::time::sleep(timeout) => {
            end("timed out");
            return Err(RemoteError::Timeout { command: shown, seconds: timeout.as_secs() });
        }
        _ = cancel.cancelled() => {
            end("cancelled");
            return Err(RemoteError::Cancelled { command: shown });
        }
    };
    let status = status.map_err(|e| RemoteError::Spawn { command: shown.clone(), source: e })?;
    Ok(GitOutput {
        code: status.code(),
        stdout: redactor.apply(&String::from_utf8_lossy(&stdout)),
        stderr: redactor.apply(&String::from_utf8_lossy(&stderr)),
    })
}
