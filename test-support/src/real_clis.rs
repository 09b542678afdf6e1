//! The real agent CLIs, installed from their registries for the end-to-end tier: each package in
//! its own prefix under a cache directory, refreshed to the newest release (`@latest`, online —
//! a plain install may serve a stale cached version) at most every few hours, so a test run
//! proves the profiles against what users install today.
//!
//! The tier is on by default; `KITTY_REAL_AGENTS=0` turns it off. When a registry cannot be
//! reached and nothing was installed before, a test says so in one line and passes: the tier
//! checks the agents, not the network.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A CLI ready to run.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The program.
    pub program: PathBuf,
    /// The directory holding it (put first on `PATH`).
    pub bin_dir: PathBuf,
    /// The first line of its `--version`.
    pub version: String,
    /// Something to know about this install (an update that failed, an older version taken).
    pub note: Option<String>,
}

/// Why a CLI is not checked in this run (printed by the test, which then passes).
pub type Skip = String;

/// How long an install counts as the newest release.
const FRESH: Duration = Duration::from_secs(6 * 3600);

/// `Err` with the reason when the tier is turned off.
pub fn enabled() -> Result<(), Skip> {
    match std::env::var("KITTY_REAL_AGENTS").as_deref() {
        Ok("0") | Ok("false") | Ok("no") => Err("KITTY_REAL_AGENTS=0: the real-CLI tier is off".into()),
        _ => Ok(()),
    }
}

/// Where the CLIs are installed: `$KITTY_AGENT_CACHE`, else
/// `~/.cache/kitty-orchestrator/agents` (kept between runs, so a run installs only what changed).
pub fn cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("KITTY_AGENT_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("kitty-orchestrator/agents")
}

/// Installs `package@version` from npm (`version`: `latest` or an exact version) and finds
/// `binary` in it.
pub fn npm(package: &str, version: &str, binary: &str) -> Result<Installed, Skip> {
    enabled()?;
    let dir = cache().join("npm").join(format!("{}@{version}", package.replace('/', "+")));
    let program = dir.join("node_modules/.bin").join(binary);
    let mut installed = install(&dir, &program, || {
        let mut npm = Command::new("npm");
        npm.args(["install", "--prefix"]).arg(&dir).args([
            "--prefer-online",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            &format!("{package}@{version}"),
        ]);
        npm
    })?;
    // Adapters (claude-agent-acp, codex-acp) answer `--version` with nothing or a warning: the
    // package's manifest says which release it is.
    let said_nothing = !installed.version.chars().any(|c| c.is_ascii_digit()) || installed.version.contains("WARNING");
    let manifest = dir.join("node_modules").join(package).join("package.json");
    let manifest =
        std::fs::read_to_string(manifest).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let (true, Some(version)) = (said_nothing, manifest.as_ref().and_then(|m| m["version"].as_str())) {
        installed.version = version.to_string();
    }
    Ok(installed)
}

/// Installs `package@version` from npm for its files (a library, no program): the package's
/// directory. Not gated by `KITTY_REAL_AGENTS` (it is no agent).
pub fn npm_package(package: &str, version: &str) -> Result<PathBuf, Skip> {
    let dir = cache().join("npm").join(format!("{}@{version}", package.replace('/', "+")));
    let package_dir = dir.join("node_modules").join(package);
    ensure(&dir, &package_dir.join("package.json"), || {
        let mut npm = Command::new("npm");
        npm.args(["install", "--prefix"]).arg(&dir).args([
            "--prefer-online",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            &format!("{package}@{version}"),
        ]);
        npm
    })?;
    Ok(package_dir)
}

/// Installs (or upgrades) `package` from PyPI into its own virtual environment.
pub fn pypi(package: &str, binary: &str) -> Result<Installed, Skip> {
    enabled()?;
    let dir = cache().join("pypi").join(package);
    let program = dir.join("bin").join(binary);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !dir.join("bin/pip").exists() {
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let out = run(Command::new(&python).args(["-m", "venv"]).arg(&dir), Duration::from_secs(120))
            .map_err(|e| format!("{python} -m venv: {e}"))?;
        if !out.0 {
            return Err(format!("{python} -m venv {} failed: {}", dir.display(), out.1));
        }
    }
    install(&dir, &program, || {
        let mut pip = Command::new(dir.join("bin/pip"));
        pip.args(["install", "--quiet", "--disable-pip-version-check", "--upgrade", package]);
        pip
    })
}

/// The versions of an npm package, oldest first (`npm view <package> versions`).
pub fn npm_versions(package: &str) -> Result<Vec<String>, Skip> {
    let (ok, out) = run(Command::new("npm").args(["view", package, "versions", "--json"]), Duration::from_secs(60))
        .map_err(|e| format!("npm view {package}: {e}"))?;
    if !ok {
        return Err(format!("npm view {package} failed: {}", last_line(&out)));
    }
    let versions: serde_json::Value = serde_json::from_str(&out).map_err(|e| format!("npm view {package}: {e}"))?;
    Ok(match versions {
        serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        serde_json::Value::String(one) => vec![one],
        _ => Vec::new(),
    })
}

fn install(dir: &Path, program: &Path, command: impl Fn() -> Command) -> Result<Installed, Skip> {
    let note = ensure(dir, program, command)?;
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_, out) = run(Command::new(program).arg("--version").env("HOME", home.path()), Duration::from_secs(60))
        .map_err(|e| format!("{} --version: {e}", program.display()))?;
    let version = out.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string();
    let bin_dir = program.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Installed { program: program.to_path_buf(), bin_dir, version, note })
}

/// Installs into `dir` with `command` unless `marker` exists from an install younger than
/// [`FRESH`]; the note says when an update failed and the earlier install is used.
fn ensure(dir: &Path, program: &Path, command: impl Fn() -> Command) -> Result<Option<String>, Skip> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // One installer at a time per package, across test threads and processes.
    let lock = std::fs::File::create(dir.join(".lock")).map_err(|e| format!("{}: {e}", dir.display()))?;
    lock.lock().map_err(|e| format!("cannot lock {}: {e}", dir.display()))?;
    let stamp = dir.join(".installed-at");
    let fresh = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() < FRESH);
    let mut note = None;
    if !(fresh && program.exists()) {
        let mut cmd = command();
        let program_name = cmd.get_program().to_string_lossy().into_owned();
        match run(&mut cmd, Duration::from_secs(600)) {
            Ok((true, _)) => {
                let _ = std::fs::write(&stamp, b"");
            }
            Ok((false, out)) | Err(out) => {
                let why = last_line(&out);
                if program.exists() {
                    note = Some(format!("could not update ({program_name}: {why}); the earlier install is used"));
                } else if unreachable(&out) {
                    return Err(format!("the registry cannot be reached ({program_name}: {why})"));
                } else {
                    return Err(format!("{program_name} install failed: {}", out.trim()));
                }
            }
        }
    }
    if !program.exists() {
        return Err(format!("installed, but {} is missing", program.display()));
    }
    Ok(note)
}

fn unreachable(out: &str) -> bool {
    [
        "ENOTFOUND",
        "EAI_AGAIN",
        "ECONNREFUSED",
        "ETIMEDOUT",
        "ENETUNREACH",
        "Network is unreachable",
        "NewConnectionError",
    ]
    .iter()
    .any(|s| out.contains(s))
}

fn last_line(out: &str) -> String {
    out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}

/// Runs `cmd` with its output captured, killing it after `limit`: `(succeeded, stdout + stderr)`.
fn run(cmd: &mut Command, limit: Duration) -> Result<(bool, String), String> {
    let out_file = tempfile::tempfile().map_err(|e| e.to_string())?;
    let err_file = out_file.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(err_file)
        .spawn()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    use std::io::{Read, Seek};
    let mut text = String::new();
    let mut file = out_file;
    let _ = file.seek(std::io::SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    match status {
        Some(status) => Ok((status.success(), text)),
        None => Err(format!("still running after {}s: {}", limit.as_secs(), last_line(&text))),
    }
}
