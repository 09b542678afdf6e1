//! Which spec-kitty we speak to. 3.2.x and 4.0 read the same lane lines but differ in what they
//! check and how they land a mission; every such difference is a method of [`Generation`], so the
//! rest of the code asks one question ("which generation?") and never compares versions itself.
//!
//! The generation is found once per process and program: the installed `spec-kitty --version`
//! (`KITTY_SPEC_KITTY`, else the first `spec-kitty` on `PATH`), else the version the project was
//! initialised or upgraded with (`.kittify/metadata.yaml`), else 3.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long `spec-kitty --version` may take (it imports its whole package: ~1 s).
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

/// A spec-kitty-cli version as it prints it (`4.0.0rc7`, `3.2.6.2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecKittyVersion {
    /// The version text, e.g. `4.0.0rc7`.
    pub text: String,
    /// Its leading number (`4` for `4.0.0rc7`).
    pub major: u32,
}

impl SpecKittyVersion {
    /// Parses `spec-kitty-cli version 4.0.0rc7` or a bare `4.0.0rc7`; `None` when no version is
    /// in the text.
    pub fn parse(text: &str) -> Option<SpecKittyVersion> {
        let word = text.split_whitespace().find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))?;
        let word = word.trim_matches(|c: char| c == '\'' || c == '"' || c == ',');
        let major = word.split('.').next()?.parse().ok()?;
        Some(SpecKittyVersion { text: word.to_string(), major })
    }

    /// The generation of rules this version follows.
    pub fn generation(&self) -> Generation {
        if self.major >= 4 { Generation::V4 } else { Generation::V3 }
    }
}

/// The rule sets of the spec-kitty versions we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Generation {
    /// spec-kitty 3.x (3.2.7 measured): `merge`, last event wins, unions every log.
    #[default]
    V3,
    /// spec-kitty 4.0 (4.0.0rc7 measured): `consolidate`, approval stamps, from-lane continuity.
    V4,
}

impl Generation {
    /// The command that lands a mission: `merge` (3.x) or `consolidate` (4.0, where `merge` was
    /// removed).
    pub fn land_command(self) -> &'static str {
        match self {
            Generation::V3 => "merge",
            Generation::V4 => "consolidate",
        }
    }

    /// Whether landing contacts `origin` first and takes `--origin-check` (4.0).
    pub fn checks_origin(self) -> bool {
        self == Generation::V4
    }

    /// Whether the reducer drops an unforced event whose `from_lane` is not the current lane
    /// and orders `approved → X` after its approval (4.0); 3.x lets the last event win.
    pub fn continuity(self) -> bool {
        self == Generation::V4
    }

    /// Whether the event-log merge driver refuses two sides that moved one WP from one lane to
    /// different lanes when one move is a cancel or a step back (4.0); 3.x unions them.
    pub fn refuses_forks(self) -> bool {
        self == Generation::V4
    }

    /// The `status.json` generation a mission with no `status.json` yet is written at
    /// (`schema_version`; 3.x writes none).
    pub fn new_snapshot_schema(self) -> Option<u64> {
        match self {
            Generation::V3 => None,
            Generation::V4 => Some(2),
        }
    }
}

/// Where the generation was learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// `<program> --version`.
    Installed(PathBuf),
    /// The project's `.kittify/metadata.yaml` (no spec-kitty installed here).
    ProjectMetadata(PathBuf),
    /// Nothing said: 3.x assumed.
    Assumed,
}

/// The spec-kitty a project is run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecKitty {
    /// Its version, when known.
    pub version: Option<SpecKittyVersion>,
    /// Where it was learned.
    pub source: VersionSource,
}

impl SpecKitty {
    /// The spec-kitty for the project at `repo_root`: the installed one's version, else the
    /// project's recorded version, else 3.x assumed.
    pub fn detect(repo_root: &Path) -> SpecKitty {
        if let Some(program) = program()
            && let Some(version) = installed_version(&program)
        {
            return SpecKitty { version: Some(version), source: VersionSource::Installed(program) };
        }
        let metadata = repo_root.join(".kittify").join("metadata.yaml");
        if let Some(version) = project_version(&metadata) {
            return SpecKitty { version: Some(version), source: VersionSource::ProjectMetadata(metadata) };
        }
        SpecKitty { version: None, source: VersionSource::Assumed }
    }

    /// The rules to follow.
    pub fn generation(&self) -> Generation {
        self.version.as_ref().map(SpecKittyVersion::generation).unwrap_or_default()
    }
}

/// The `spec-kitty` program: `KITTY_SPEC_KITTY` when set, else the first on `PATH`.
pub fn program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KITTY_SPEC_KITTY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("spec-kitty")).find(|p| p.is_file())
}

/// A program as it was when asked: its path and modification time.
type ProgramKey = (PathBuf, Option<std::time::SystemTime>);

/// `<program> --version`, asked once per program and modification time (an upgrade in place is
/// seen by the next run of a long-lived process).
pub fn installed_version(program: &Path) -> Option<SpecKittyVersion> {
    static SEEN: OnceLock<Mutex<HashMap<ProgramKey, Option<SpecKittyVersion>>>> = OnceLock::new();
    let modified = std::fs::metadata(program).and_then(|m| m.modified()).ok();
    let key = (program.to_path_buf(), modified);
    let seen = SEEN.get_or_init(Mutex::default);
    if let Some(known) = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
        return known.clone();
    }
    let version = installed_metadata(program).or_else(|| ask_version(program));
    if version.is_none() {
        tracing::warn!(program = %program.display(), "`spec-kitty --version` printed no version; assuming spec-kitty 3");
    }
    seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, version.clone());
    version
}

/// The version pip recorded beside the program: an entry-point script's `#!<venv>/bin/python`
/// names the environment, whose `lib/python*/site-packages/spec_kitty_cli-<version>.dist-info`
/// says the version without starting Python (a venv, pipx or `uv tool` install all look so).
fn installed_metadata(program: &Path) -> Option<SpecKittyVersion> {
    let mut head = [0u8; 512];
    let n = std::io::Read::read(&mut std::fs::File::open(program).ok()?, &mut head).ok()?;
    let first = std::str::from_utf8(&head[..n]).ok()?.lines().next()?.strip_prefix("#!")?;
    let python = Path::new(first.split_whitespace().next()?);
    let prefix = python.parent()?.parent()?;
    for lib in std::fs::read_dir(prefix.join("lib")).ok()?.flatten() {
        let Ok(entries) = std::fs::read_dir(lib.path().join("site-packages")) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(version) = name.strip_prefix("spec_kitty_cli-").and_then(|r| r.strip_suffix(".dist-info")) {
                return SpecKittyVersion::parse(version);
            }
        }
    }
    None
}

/// Runs `<program> --version` (no shell, no upgrade check, bounded in time).
fn ask_version(program: &Path) -> Option<SpecKittyVersion> {
    let mut child = std::process::Command::new(program)
        .arg("--version")
        .env("SPEC_KITTY_NO_UPGRADE_CHECK", "1")
        .env("SPEC_KITTY_NON_INTERACTIVE", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < VERSION_TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    SpecKittyVersion::parse(&out)
}

/// `spec_kitty.version` of `.kittify/metadata.yaml`.
fn project_version(metadata: &Path) -> Option<SpecKittyVersion> {
    let text = std::fs::read_to_string(metadata).ok()?;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).ok()?;
    let version = doc.get("spec_kitty")?.get("version")?;
    SpecKittyVersion::parse(version.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_pick_their_generation() {
        let v = SpecKittyVersion::parse("spec-kitty-cli version 4.0.0rc7\n").unwrap();
        assert_eq!((v.text.as_str(), v.major, v.generation()), ("4.0.0rc7", 4, Generation::V4));
        let v = SpecKittyVersion::parse("3.2.6.2").unwrap();
        assert_eq!((v.major, v.generation()), (3, Generation::V3));
        assert!(SpecKittyVersion::parse("usage: spec-kitty [OPTIONS]").is_none());
        assert_eq!(Generation::V4.land_command(), "consolidate");
        assert_eq!(Generation::V3.land_command(), "merge");
    }

    #[test]
    fn a_project_with_no_spec_kitty_installed_reads_its_recorded_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".kittify")).unwrap();
        std::fs::write(
            dir.path().join(".kittify/metadata.yaml"),
            "# Spec Kitty Project Metadata\nspec_kitty:\n  schema_version: 3\n  version: 4.0.0rc7\n",
        )
        .unwrap();
        assert_eq!(project_version(&dir.path().join(".kittify/metadata.yaml")).unwrap().major, 4);
        assert!(project_version(&dir.path().join("nothing.yaml")).is_none());
    }
}
