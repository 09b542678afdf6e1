//! The attacker-agent suite: a fixture agent (`tests/fixtures/agents/attacker-agent`) attacks
//! the repository it was handed — deletes packs, runs gc on the repository, moves HEAD or the
//! worktree's `.git` file to `main`, plants FIFOs, forges objects, signals the orchestrator —
//! then does honest work. After every attack, whatever the attack: `git fsck --full` is clean,
//! every ref but the WP's own branch (and our `refs/kitty/*`) is where it was, every pack and
//! loose object that existed still exists unchanged, the config, hooks and main checkout are as
//! they were, and the run ended (never hung). Attacks that need Landlock to fail are skipped
//! (said so) where the kernel has none.

use crate::common;

use std::path::Path;
use std::time::Duration;

use kitty_orchestrator::engine::{RunSummary, no_events};
use kitty_orchestrator::{Lane, Orchestrator};
use tokio_util::sync::CancellationToken;

use crate::common::{config, fast, git};

const SLUG: &str = "070-attack";

fn landlock_here() -> bool {
    let support = kitty_orchestrator::sandbox::support();
    if !support.available {
        eprintln!("skipped: {}", support.why_not.unwrap_or_default());
    }
    support.available
}

/// Everything an attack must leave as it was.
#[derive(Debug, PartialEq)]
struct Watched {
    refs: Vec<String>,
    objects: Vec<(String, u64)>,
    config: Vec<u8>,
    hooks: Vec<String>,
    checkout: String,
}

fn files(dir: &Path, prefix: &str, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        if meta.is_dir() {
            files(&entry.path(), &format!("{name}/"), out);
        } else {
            out.push((name, meta.len()));
        }
    }
}

fn watch(dir: &Path) -> Watched {
    let own = format!("refs/heads/{SLUG}-WP01");
    let refs = git(dir, &["for-each-ref", "--format=%(refname) %(objectname)"])
        .lines()
        .filter(|l| {
            !l.starts_with("refs/kitty/") && !l.starts_with("refs/notes/kitty ") && !l.starts_with(&format!("{own} "))
        })
        .map(str::to_string)
        .collect();
    let mut objects = Vec::new();
    files(&dir.join(".git/objects"), "", &mut objects);
    objects.sort();
    let mut hooks = Vec::new();
    files(&dir.join(".git/hooks"), "", &mut hooks);
    // Our own: the WP worktrees and the agents' logs.
    let checkout = git(dir, &["status", "--porcelain", "--untracked-files=all", "--ignored"])
        .lines()
        .filter(|l| !l.contains(" .worktrees/") && !l.contains(" .kittify/logs/"))
        .map(|l| format!("{l}\n"))
        .collect();
    Watched {
        refs,
        objects,
        config: std::fs::read(dir.join(".git/config")).unwrap(),
        hooks: hooks.into_iter().map(|(n, s)| format!("{n} {s}")).collect(),
        checkout,
    }
}

/// A repository with history in packs, a second branch and a tag; one WP whose agent runs
/// `attacks`. Returns the run's summary, the attempt's log, and the repository.
async fn attacked(attacks: &str, sandbox: &str) -> (RunSummary, String, tempfile::TempDir) {
    let tmp = common::repo();
    let dir = tmp.path();
    common::feature(dir, SLUG, &[("WP01", "planned", &[])]);
    std::fs::write(dir.join("kept.txt"), "the user's file\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "the user's history"]);
    git(dir, &["branch", "other"]);
    git(dir, &["tag", "-a", "v1", "-m", "release"]);
    git(dir, &["gc", "-q"]);
    // A loose object too (gc packed the rest).
    git(dir, &["commit", "-q", "--allow-empty", "-m", "one more"]);
    let program = kitty_test_support::fixture("agents/attacker-agent").display().to_string();
    let agent = format!(
        "[agents.evil]\ncommand = [{}]\nenv = {{ ATTACK = {} }}\n",
        kitty_test_support::toml_string(&program),
        kitty_test_support::toml_string(attacks)
    );
    let cfg = config(
        &format!("sandbox = \"{sandbox}\"\n[agents]\nimplementation = [\"evil\"]\nreview = [\"rev\"]"),
        &[agent, common::agent("rev", &[])],
    );
    let before = watch(dir);
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let run = orch.run(SLUG, fast(), no_events(), CancellationToken::new());
    let summary = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("the run under attack `{attacks}` hung"))
        .unwrap();
    let log = std::fs::read_to_string(dir.join(format!(".kittify/logs/{SLUG}/WP01-implementation-1.log"))).unwrap();
    // Whatever the attack: the repository is whole and nothing but the WP's branch moved.
    let fsck =
        std::process::Command::new("git").args(["fsck", "--full", "--strict"]).current_dir(dir).output().unwrap();
    assert!(fsck.status.success(), "git fsck after `{attacks}`: {}", String::from_utf8_lossy(&fsck.stderr));
    let after = watch(dir);
    assert_eq!(after.refs, before.refs, "refs moved by `{attacks}`\n{log}");
    for object in &before.objects {
        assert!(after.objects.contains(object), "{object:?} removed or changed by `{attacks}`\n{log}");
    }
    assert_eq!(after.config, before.config, "config changed by `{attacks}`");
    assert_eq!(after.hooks, before.hooks, "hooks changed by `{attacks}`");
    assert_eq!(after.checkout, before.checkout, "the main checkout changed under `{attacks}`\n{log}");
    assert!(!dir.join(".git/kitty/quarantine").read_dir().is_ok_and(|mut d| d.next().is_some()), "a store was left");
    (summary, log, tmp)
}

fn wp01(summary: &RunSummary) -> &kitty_orchestrator::engine::WpSummary {
    summary.wps.iter().find(|w| w.facts.id == "WP01").unwrap()
}

fn attack_lines<'a>(log: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("[stderr] attack {}: ", name.replace('_', "-"));
    let lines: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix(prefix.as_str())).collect();
    assert!(!lines.is_empty(), "the attack {name} did not run:\n{log}");
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_cannot_delete_truncate_or_rename_any_object() {
    if !landlock_here() {
        return;
    }
    let (summary, log, tmp) = attacked("delete_objects,gc_repository", "required").await;
    for line in attack_lines(&log, "delete_objects") {
        assert!(line.contains("denied"), "{line}\n{log}");
    }
    // gc and repack must write the store: refused. (prune, with nothing unreachable, has
    // nothing to remove; that nothing was removed is checked for every attack.)
    for line in attack_lines(&log, "gc_repository").into_iter().filter(|l| !l.starts_with("prune")) {
        assert!(!line.contains("exit 0"), "{line}\n{log}");
    }
    assert_eq!(wp01(&summary).facts.lane, Lane::Done, "{summary:#?}");
    assert_eq!(git(tmp.path(), &["show", &format!("{SLUG}-WP01:WP01.txt")]), "work of WP01\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_and_repack_in_its_worktree_touch_only_its_own_store_and_its_work_lands_on_its_branch() {
    let mode = if kitty_orchestrator::sandbox::support().available { "required" } else { "off" };
    let (summary, log, tmp) = attacked("gc_own", mode).await;
    for line in attack_lines(&log, "gc_own") {
        assert!(line.contains("exit 0"), "gc in its own worktree should work: {line}\n{log}");
    }
    assert_eq!(wp01(&summary).facts.lane, Lane::Done, "{summary:#?}");
    assert_eq!(git(tmp.path(), &["show", &format!("{SLUG}-WP01:WP01.txt")]), "work of WP01\n");
    assert!(log.contains("new object(s) taken into the repository; branch moved"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_moved_to_main_never_makes_us_commit_on_main() {
    for mode in ["off", "best_effort"] {
        let (summary, log, tmp) = attacked("head_main", mode).await;
        assert!(log.contains("HEAD was left on refs/heads/main; put back on its branch"), "{log}");
        // The work it left is committed on its branch (by us), not on main.
        assert_eq!(wp01(&summary).facts.lane, Lane::Done, "{summary:#?}");
        assert_eq!(git(tmp.path(), &["show", &format!("{SLUG}-WP01:WP01-left.txt")]), "left uncommitted\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_git_file_pointed_at_the_repository_is_put_back_and_blocks_the_wp() {
    for mode in ["off", "best_effort"] {
        let (summary, _log, tmp) = attacked("dot_git_main", mode).await;
        let wp = wp01(&summary);
        assert_eq!(wp.facts.lane, Lane::Blocked, "{summary:#?}");
        let reason = wp.facts.reason.clone().unwrap_or_default();
        assert!(reason.starts_with("security: ") && reason.contains(".git held"), "{reason}");
        let dot_git = std::fs::read_to_string(tmp.path().join(format!(".worktrees/{SLUG}-WP01/.git"))).unwrap();
        assert!(dot_git.contains(&format!("worktrees/{SLUG}-WP01")), "{dot_git}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifos_in_place_of_the_link_files_neither_hang_nor_mislead_us() {
    for mode in ["off", "best_effort"] {
        let (summary, log, _tmp) = attacked("fifo_links", mode).await;
        let wp = wp01(&summary);
        assert_eq!(wp.facts.lane, Lane::Blocked, "{summary:#?}\n{log}");
        assert!(wp.facts.reason.as_deref().unwrap_or_default().contains(".git held something unreadable"), "{wp:#?}");
        if mode == "best_effort" && kitty_orchestrator::sandbox::support().available {
            let head = attack_lines(&log, "fifo_links").into_iter().find(|l| l.contains("fifo at HEAD")).unwrap();
            assert!(head.contains("denied"), "no FIFO may be made in a git directory: {head}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_cannot_signal_the_orchestrator_where_the_kernel_scopes_signals() {
    let support = kitty_orchestrator::sandbox::support();
    if !support.scopes.iter().any(|s| s == "signal") {
        eprintln!("skipped: signals are not scoped here (Landlock ABI {:?})", support.abi);
        return;
    }
    let (summary, log, _tmp) = attacked("signal_parent", "required").await;
    for line in attack_lines(&log, "signal_parent") {
        assert!(line.contains("denied"), "{line}\n{log}");
    }
    assert_eq!(wp01(&summary).facts.lane, Lane::Done, "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_object_never_enters_the_store_and_the_branch_never_points_at_it() {
    for mode in ["off", "best_effort"] {
        let (_summary, log, tmp) = attacked("forged_object", mode).await;
        assert!(log.contains("does not hash to its name"), "{log}");
        assert!(log.contains("the branch was not moved"), "{log}");
        let tip = git(tmp.path(), &["rev-parse", &format!("{SLUG}-WP01")]);
        assert!(!tip.starts_with("1234567890"), "{tip}");
        assert!(!tmp.path().join(".git/objects/12/34567890123456789012345678901234567890").exists());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_cannot_write_hooks_config_or_the_main_checkout() {
    if !landlock_here() {
        return;
    }
    let (summary, log, _tmp) = attacked("hooks_config,main_checkout,store_symlink", "required").await;
    for name in ["hooks_config", "main_checkout", "store_symlink"] {
        for line in attack_lines(&log, name) {
            assert!(line.contains("denied"), "{line}\n{log}");
        }
    }
    assert_eq!(wp01(&summary).facts.lane, Lane::Done, "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_in_an_unconfined_agents_store_is_removed_unread() {
    let (summary, log, _tmp) = attacked("store_symlink", "off").await;
    assert!(log.contains("not an object file (removed unread)"), "{log}");
    assert_eq!(wp01(&summary).facts.lane, Lane::Done, "{summary:#?}");
}

/// An earlier WP committed `conf -> <a directory outside>`; the dependent WP's worktree is made
/// from that branch, and `.worktreeinclude` copies the user's ignored `conf/.env` into new
/// worktrees. The copy must not follow the link: nothing is written outside, and the error names
/// the path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_copies_never_write_through_a_committed_symlink() {
    let tmp = common::repo();
    let dir = tmp.path();
    let outside = tempfile::tempdir().unwrap();
    common::feature(dir, "071-links", &[("WP01", "planned", &[]), ("WP02", "planned", &["WP01"])]);
    std::fs::write(dir.join(".gitignore"), "conf/.env\n").unwrap();
    std::fs::write(dir.join(".worktreeinclude"), "conf/.env\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "include conf/.env in worktrees"]);
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(dir.join("conf/.env"), "SECRET=from-the-user\n").unwrap();
    let program = kitty_test_support::fixture("agents/attacker-agent").display().to_string();
    let target = outside.path().display().to_string();
    let agent = format!(
        "[agents.evil]\ncommand = [{}]\nenv = {{ ATTACK = \"symlink_out\", ATTACK_TARGET = {} }}\n",
        kitty_test_support::toml_string(&program),
        kitty_test_support::toml_string(&target)
    );
    let cfg = config(
        "sandbox = \"off\"\nmax_concurrent_wps = 1\n[agents]\nimplementation = [\"evil\"]\nreview = [\"rev\"]",
        &[agent, common::agent("rev", &[])],
    );
    let orch = Orchestrator::open(dir, Some(cfg)).unwrap();
    let summary = orch.run("071-links", fast(), no_events(), CancellationToken::new()).await.unwrap();
    assert!(!outside.path().join(".env").exists(), "the user's .env was copied out through the link");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing was written outside");
    let wp02 = summary.wps.iter().find(|w| w.facts.id == "WP02").unwrap();
    assert_eq!(wp02.facts.lane, Lane::Blocked, "{summary:#?}");
    let reason = wp02.facts.reason.clone().unwrap_or_default();
    assert!(reason.contains("conf/.env") && reason.contains("symbolic link"), "{reason}");
}

/// Nothing of the home directory is an implementer's to write (its settings and caches hold code
/// that runs later, outside any sandbox): `~/.cache` and the agents' settings are refused, the
/// attempt's own cache (`XDG_CACHE_HOME`) is private.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confined_agent_writes_nothing_under_the_home_directory() {
    if !landlock_here() {
        return;
    }
    let home = std::path::PathBuf::from(std::env::var("HOME").unwrap());
    let settings_existed = home.join(".claude/settings.json").exists();
    let (summary, log, _tmp) = attacked("home_writes", "required").await;
    let lines = attack_lines(&log, "home_writes");
    for line in lines.iter().filter(|l| l.starts_with("home ")) {
        assert!(line.contains("denied"), "{line}\n{log}");
    }
    assert!(lines.iter().any(|l| l.starts_with("private cache: done")), "{log}");
    assert!(!home.join(".kitty-attack-home").exists() && !home.join(".cache/kitty-attack").exists());
    assert_eq!(home.join(".claude/settings.json").exists(), settings_existed);
    assert_eq!(wp01(&summary).facts.lane, Lane::Done, "{summary:#?}");
}

/// A worktree's own config (read when the repository enables `extensions.worktreeConfig`) can
/// name commands git runs later, outside any sandbox: one an attempt writes is removed, and the
/// WP blocked as a security event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worktree_config_written_by_an_attempt_is_removed_and_blocks_the_wp() {
    for mode in ["off", "best_effort"] {
        let (summary, _log, tmp) = attacked("worktree_config", mode).await;
        let wp = wp01(&summary);
        assert_eq!(wp.facts.lane, Lane::Blocked, "{summary:#?}");
        assert!(wp.facts.reason.as_deref().unwrap_or_default().contains("config.worktree"), "{wp:#?}");
        assert!(!tmp.path().join(format!(".git/worktrees/{SLUG}-WP01/config.worktree")).exists());
    }
}
