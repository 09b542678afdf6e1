//! GitHub through the `gh` command line, when it is installed and logged in: the user's own
//! login (and its host, for GitHub Enterprise). argv only, the body on stdin, prompts off, a
//! time limit.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::ForgeError;
use super::host::{Proposal, PullRequest, PullRequestHost};
use super::repo_url::RepoId;
use crate::redact::Redactor;

/// Longest one `gh` command may take.
const GH_TIMEOUT: Duration = Duration::from_secs(120);

/// `gh` for one repository.
pub struct GhCli {
    program: PathBuf,
    repo: RepoId,
    redactor: Redactor,
}

/// What a finished `gh` command left.
struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl GhCli {
    /// `gh` at `program`, when it is logged in to the repository's host.
    pub fn logged_in(program: PathBuf, repo: RepoId, redactor: &Redactor) -> Option<GhCli> {
        let gh = GhCli { program, repo, redactor: redactor.clone() };
        let host = if gh.repo.host.is_empty() { "github.com".to_string() } else { gh.repo.host.clone() };
        gh.run(&["auth", "status", "--hostname", &host], None).ok().filter(|r| r.ok).map(|_| gh)
    }

    fn repo_arg(&self) -> String {
        if self.repo.host.is_empty() || self.repo.host == "github.com" {
            self.repo.slug()
        } else {
            format!("{}/{}", self.repo.host, self.repo.slug())
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Ran, std::io::Error> {
        let mut child = Command::new(&self.program)
            .args(args)
            .env("GH_PROMPT_DISABLED", "1")
            .env("GH_NO_UPDATE_NOTIFIER", "1")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())?;
        }
        let started = Instant::now();
        while child.try_wait()?.is_none() {
            if started.elapsed() > GH_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::other(format!("gh did not finish within {} s", GH_TIMEOUT.as_secs())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output()?;
        Ok(Ran {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: self.redactor.apply(&String::from_utf8_lossy(&out.stderr)),
        })
    }

    fn checked(&self, action: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ForgeError> {
        let fail = |why: String| ForgeError::Failed {
            host: "gh".into(),
            action: action.to_string(),
            repo: self.repo.slug(),
            why: why.chars().take(500).collect(),
        };
        let ran = self.run(args, stdin).map_err(|e| fail(e.to_string()))?;
        if !ran.ok {
            return Err(fail(ran.stderr.trim().to_string()));
        }
        Ok(ran.stdout)
    }
}

/// The number at the end of a pull request's URL (`…/pull/12`).
fn number_of(url: &str) -> Option<u64> {
    url.trim().trim_end_matches('/').rsplit('/').next()?.parse().ok()
}

impl PullRequestHost for GhCli {
    fn describe(&self) -> String {
        "gh".to_string()
    }

    fn find_open(&self, head: &str, base: &str) -> Result<Option<PullRequest>, ForgeError> {
        let repo = self.repo_arg();
        let args = [
            "pr",
            "list",
            "--repo",
            &repo,
            "--head",
            head,
            "--base",
            base,
            "--state",
            "open",
            "--json",
            "number,url",
            "--limit",
            "1",
        ];
        let out = self.checked("listing pull requests", &args, None)?;
        let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        Ok(list.as_array().and_then(|l| l.first()).and_then(|pr| {
            Some(PullRequest { number: pr.get("number")?.as_u64()?, url: pr.get("url")?.as_str()?.to_string() })
        }))
    }

    fn create(&self, p: &Proposal) -> Result<PullRequest, ForgeError> {
        let repo = self.repo_arg();
        let args = [
            "pr",
            "create",
            "--repo",
            &repo,
            "--head",
            &p.head,
            "--base",
            &p.base,
            "--title",
            &p.title,
            "--body-file",
            "-",
        ];
        let out = self.checked("creating the pull request", &args, Some(&p.body))?;
        let url = out.lines().map(str::trim).rfind(|l| l.contains("/pull/")).unwrap_or_default().to_string();
        let number = number_of(&url).ok_or_else(|| ForgeError::Failed {
            host: "gh".into(),
            action: "creating the pull request".into(),
            repo: self.repo.slug(),
            why: format!("gh printed no pull request URL: {}", out.trim()),
        })?;
        Ok(PullRequest { number, url })
    }

    fn update(&self, number: u64, p: &Proposal) -> Result<PullRequest, ForgeError> {
        let repo = self.repo_arg();
        let n = number.to_string();
        let args = ["pr", "edit", &n, "--repo", &repo, "--title", &p.title, "--body-file", "-"];
        let out = self.checked("updating the pull request", &args, Some(&p.body))?;
        let url = out.lines().map(str::trim).rfind(|l| l.contains("/pull/")).unwrap_or_default().to_string();
        Ok(PullRequest { number, url })
    }
}
