//! Worktree creation through this crate (files written in parallel) vs `git worktree add` on the same commit,
//! side by side, on generated repositories of 5,000 and 50,000 files
//! (`cargo bench -p kitty-orchestrator --bench worktree`). Prints medians and the ratio.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use git2::{Repository, Signature};
use kitty_orchestrator::worktree::WorktreeManager;
use kitty_orchestrator::{Config, WpId, load_feature};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A repository whose `main` holds `files` files of ~200 bytes in directories of 100.
fn generate(dir: &Path, files: usize) {
    let repo = Repository::init(dir).unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    for d in 0..files.div_ceil(100) {
        let mut sub = repo.treebuilder(None).unwrap();
        for f in 0..100.min(files - d * 100) {
            let content = format!("// file {d}/{f}\n{}\n", "let x = 1;\n".repeat(16));
            let blob = repo.blob(content.as_bytes()).unwrap();
            sub.insert(format!("f{f:03}.rs"), blob, 0o100644).unwrap();
        }
        root.insert(format!("d{d:04}"), sub.write().unwrap(), 0o040000).unwrap();
    }
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let sig = Signature::now("bench", "bench@example.com").unwrap();
    repo.commit(Some("refs/heads/main"), &sig, &sig, "generated", &tree, &[]).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    // The main checkout is not needed for either method; an index keeps `git` happy.
    git(dir, &["read-tree", "main"]);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    for files in [5_000usize, 50_000] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        generate(dir, files);
        let feature_dir = dir.join("kitty-specs/900-bench");
        std::fs::create_dir_all(feature_dir.join("tasks")).unwrap();
        for i in 1..=5 {
            std::fs::write(
                feature_dir.join(format!("tasks/WP0{i}-x.md")),
                format!("---\nwork_package_id: WP0{i}\n---\nbody\n"),
            )
            .unwrap();
        }
        let feature = load_feature(&feature_dir).unwrap();
        let m = WorktreeManager::new(dir, &feature, &Config::default()).unwrap();
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for i in 1..=5 {
            let wp = WpId::parse(&format!("WP0{i}")).unwrap();
            let start = Instant::now();
            let p = m.ensure(feature.work_package(&wp).unwrap()).unwrap();
            ours.push(start.elapsed());
            assert!(p.created);
            let path = dir.join(format!("plain-{i}"));
            let start = Instant::now();
            git(dir, &["worktree", "add", "-q", "-b", &format!("plain-{i}"), path.to_str().unwrap(), "main"]);
            theirs.push(start.elapsed());
        }
        let (o, t) = (median(ours), median(theirs));
        println!(
            "FIGURE|fresh worktree of a {files}-file tree (WorktreeManager::ensure)|{:.0} ms|git worktree add|{:.0} ms|{:.2}|<= 1x",
            o.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e3,
            o.as_secs_f64() / t.as_secs_f64()
        );
    }
}
