//! What an attempt's private git store costs (`cargo bench -p kitty-orchestrator --bench
//! quarantine`), side by side in one run:
//!
//! - attempt overhead: an agent-like `git commit` in a linked worktree of a repository with
//!   `KITTY_BENCH_BRANCHES` (200) branches, 50 tags and 2000 files — alone (the "before"), and
//!   between opening the store and concluding it (objects checked and moved in, the branch moved
//!   by compare-and-swap): medians of `KITTY_BENCH_ROUNDS` (40) interleaved rounds;
//! - object migration: 1 and 10 000 new objects written in the store by `git hash-object -w`,
//!   concluded, against `git hash-object -w` writing the same files into the repository itself.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kitty_orchestrator::worktree::Quarantine;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes `n` new files under `dir` and hashes them into the object store of the repository
/// whose worktree `cwd` is (`git hash-object -w --stdin-paths`); returns the time git took.
fn hash_objects(cwd: &Path, dir: &Path, n: usize, salt: &str) -> Duration {
    std::fs::create_dir_all(dir).unwrap();
    let mut list = String::new();
    for i in 0..n {
        let path = dir.join(format!("f{i}"));
        std::fs::write(&path, format!("{salt} object {i}\n")).unwrap();
        list.push_str(&format!("{}\n", path.display()));
    }
    let start = Instant::now();
    let mut child = Command::new("git")
        .args(["hash-object", "-w", "--stdin-paths"])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(list.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    start.elapsed()
}

fn main() {
    let branches: usize = std::env::var("KITTY_BENCH_BRANCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let rounds: usize = std::env::var("KITTY_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.name", "b"]);
    git(&dir, &["config", "user.email", "b@b"]);
    for i in 0..2000 {
        std::fs::write(dir.join("src").join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "files"]);
    for i in 0..branches {
        git(&dir, &["branch", &format!("b{i}")]);
    }
    for i in 0..50 {
        git(&dir, &["tag", &format!("v{i}")]);
    }
    git(&dir, &["gc", "-q"]);
    let wt = tmp.path().join("wt");
    git(&dir, &["worktree", "add", "-q", "-b", "wp", wt.to_str().unwrap()]);
    let repo = git2::Repository::open(&dir).unwrap();
    let store = Quarantine::new(repo.commondir(), "wt", &wt, "wp");
    let commit = |n: usize| git(&wt, &["commit", "-q", "--allow-empty", "-m", &format!("attempt {n}")]);

    let (mut plain, mut isolated) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let start = Instant::now();
        commit(round * 2);
        plain.push(start.elapsed());
        let start = Instant::now();
        store.open(&repo).unwrap();
        commit(round * 2 + 1);
        let done = store.conclude(&repo, true).unwrap();
        isolated.push(start.elapsed());
        assert!(done.adopted, "{done:?}");
    }
    let (plain, isolated) = (median(plain), median(isolated));
    println!(
        "FIGURE|attempt overhead of the private git store (open, commit, conclude; {branches} branches, 50 tags)|{:.1} ms|the same git commit without it|{:.1} ms|{:.2}|+ a few ms per attempt",
        ms(isolated),
        ms(plain),
        isolated.as_secs_f64() / plain.as_secs_f64()
    );
    println!(
        "attempt (a git commit): {:.2} ms alone, {:.2} ms with its private store: +{:.2} ms per attempt ({:.2}x), {branches} branches",
        ms(plain),
        ms(isolated),
        ms(isolated.saturating_sub(plain)),
        isolated.as_secs_f64() / plain.as_secs_f64()
    );

    for n in [1usize, 10_000] {
        // git writing the objects into the repository itself: the reference.
        let direct = hash_objects(&dir, &tmp.path().join(format!("direct-{n}")), n, "direct");
        store.open(&repo).unwrap();
        let written = hash_objects(&wt, &tmp.path().join(format!("private-{n}")), n, &format!("private {n}"));
        let start = Instant::now();
        let done = store.conclude(&repo, true).unwrap();
        let migrated = start.elapsed();
        assert_eq!(done.objects, n, "{done:?}");
        println!(
            "FIGURE|objects of an attempt taken into the repository: {n}|{:.1} ms|git hash-object -w writing them into the store|{:.1} ms|{:.2}|<= 1x",
            ms(migrated),
            ms(direct),
            migrated.as_secs_f64() / direct.as_secs_f64()
        );
        println!(
            "migrate {n} new object(s): {:.2} ms (git wrote them: {:.2} ms into the store, {:.2} ms into the private one): {:.2}x git's own write",
            ms(migrated),
            ms(direct),
            ms(written),
            migrated.as_secs_f64() / direct.as_secs_f64()
        );
    }
}
