//! The built-in demo: a small feature (six WPs with a diamond) bundled in the binary, a
//! temporary repository to run it in, and a deterministic demo agent that behaves like a real
//! CLI — reads its prompt on stdin, writes and commits the files the WP asks for, prints
//! claude-style `stream-json`, gives a verdict when reviewing, and rejects WP03's first review
//! once so the review cycle shows.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;

/// The demo feature's slug.
pub const FEATURE: &str = "001-wordcount";

const FILES: [(&str, &str); 8] = [
    ("meta.json", include_str!("../demo/001-wordcount/meta.json")),
    ("spec.md", include_str!("../demo/001-wordcount/spec.md")),
    ("tasks/WP01-core.md", include_str!("../demo/001-wordcount/tasks/WP01-core.md")),
    ("tasks/WP02-cli.md", include_str!("../demo/001-wordcount/tasks/WP02-cli.md")),
    ("tasks/WP03-tests.md", include_str!("../demo/001-wordcount/tasks/WP03-tests.md")),
    ("tasks/WP04-packaging.md", include_str!("../demo/001-wordcount/tasks/WP04-packaging.md")),
    ("tasks/WP05-docs.md", include_str!("../demo/001-wordcount/tasks/WP05-docs.md")),
    ("tasks/WP06-release.md", include_str!("../demo/001-wordcount/tasks/WP06-release.md")),
];

/// An error while setting up the demo repository.
#[derive(Debug, thiserror::Error)]
#[error("demo setup: {what}: {why}")]
pub struct DemoError {
    what: String,
    why: String,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, DemoError> {
    let out = Command::new("git")
        .args(["-c", "user.name=kitty-demo", "-c", "user.email=demo@kitty.local", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| DemoError {
            what: format!("git {}", args.join(" ")),
            why: format!("cannot run git ({e}); the demo needs git on PATH"),
        })?;
    if !out.status.success() {
        return Err(DemoError {
            what: format!("git {}", args.join(" ")),
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes a git repository in `dir` holding the demo feature, committed on `main`. `dir` must
/// not exist or be empty: the demo writes files and commits, and must never do that to a
/// directory someone already uses.
pub fn create_repo(dir: &Path) -> Result<(), DemoError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| DemoError { what, why: e.to_string() }
    };
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(DemoError {
            what: format!("using {}", dir.display()),
            why: "the directory is not empty; the demo only writes into a new, empty directory (give --dir a path that does not exist yet)".into(),
        });
    }
    if dir.exists() && !dir.is_dir() {
        return Err(DemoError {
            what: format!("using {}", dir.display()),
            why: "it is a file, not a directory".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(io("creating the directory"))?;
    git(dir, &["init", "-q", "-b", "main"])?;
    std::fs::write(dir.join("README.md"), "# wordcount\n\nBuilt by agents, orchestrated by kitty-orchestrator.\n")
        .map_err(io("writing README.md"))?;
    let feature = dir.join("kitty-specs").join(FEATURE);
    for (path, text) in FILES {
        let target = feature.join(path);
        std::fs::create_dir_all(target.parent().expect("files are in the feature"))
            .map_err(io("writing the feature"))?;
        std::fs::write(&target, text).map_err(io("writing the feature"))?;
    }
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "-q", "-m", "Add the wordcount feature (kitty-orchestrator demo)"])?;
    Ok(())
}

/// The demo configuration: two custom agents running `exe demo-agent`, one implementing and one
/// reviewing, two WPs at a time.
pub fn config(exe: &Path) -> Config {
    let exe = exe.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
    let text = format!(
        "max_concurrent_wps = 2\nmax_retries = 1\nmax_review_cycles = 3\n\n[agents]\nimplementation = [\"demo-implementer\"]\nreview = [\"demo-reviewer\"]\n\n\
         [agents.demo-implementer]\ncommand = [\"{exe}\", \"demo-agent\"]\noutput = \"stream-json\"\n\n\
         [agents.demo-reviewer]\ncommand = [\"{exe}\", \"demo-agent\"]\noutput = \"stream-json\"\n"
    );
    Config::from_toml_str(&text, "<demo>").expect("the demo configuration is valid")
}

/// One `<<<file: path` … `>>>` block of a WP prompt.
struct FileBlock {
    path: String,
    after_review: bool,
    content: String,
}

fn file_blocks(prompt: &str) -> Vec<FileBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<FileBlock> = None;
    for line in prompt.lines() {
        if let Some(block) = current.as_mut() {
            if line.trim_end() == ">>>" {
                blocks.push(current.take().expect("inside a block"));
            } else {
                block.content.push_str(line);
                block.content.push('\n');
            }
        } else if let Some(path) = line.strip_prefix("<<<file: ") {
            current = Some(FileBlock { path: path.trim().to_string(), after_review: false, content: String::new() });
        } else if let Some(path) = line.strip_prefix("<<<file-after-review: ") {
            current = Some(FileBlock { path: path.trim().to_string(), after_review: true, content: String::new() });
        }
    }
    blocks
}

fn result_json(text: &str) -> String {
    serde_json::json!({
        "type": "result", "subtype": "success", "is_error": false, "duration_ms": 400, "num_turns": 1,
        "result": text, "session_id": format!("demo-{}", std::process::id()), "total_cost_usd": 0.0,
        "usage": {"input_tokens": 0, "output_tokens": 0}, "permission_denials": [],
    })
    .to_string()
}

/// The demo agent's main: reads the prompt on stdin, acts on the worktree in the current
/// directory, prints claude-style stream-json. Returns the process exit code.
pub fn agent_main() -> i32 {
    let mut prompt = String::new();
    if std::io::stdin().read_to_string(&mut prompt).is_err() {
        eprintln!("demo-agent: cannot read the prompt on stdin");
        return 2;
    }
    let role = std::env::var("KITTY_ROLE").unwrap_or_else(|_| "implementation".into());
    let wp = std::env::var("KITTY_WP").unwrap_or_else(|_| "WP00".into());
    let agent = std::env::var("KITTY_AGENT").unwrap_or_else(|_| "demo-agent".into());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    println!(
        "{}",
        serde_json::json!({"type": "system", "subtype": "init", "cwd": cwd, "model": "demo", "session_id": "demo"})
    );
    // Look busy for a moment, like a real agent, so the progress display has something to show.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = if role == "review" {
        review(&cwd, &wp)
    } else {
        match implement(&cwd, &wp, &agent, &prompt) {
            Ok(text) => text,
            Err(why) => {
                eprintln!("demo-agent: {why}");
                println!("{}", result_json(&format!("I could not finish: {why}\nKITTY-STATUS: blocked {why}")));
                return 1;
            }
        }
    };
    println!("{}", serde_json::json!({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}}));
    println!("{}", result_json(&text));
    0
}

fn implement(cwd: &Path, wp: &str, agent: &str, prompt: &str) -> Result<String, String> {
    let second_cycle = prompt.contains("A reviewer rejected the previous implementation");
    let mut written = Vec::new();
    for block in file_blocks(prompt) {
        if block.after_review && !second_cycle {
            continue;
        }
        let target = cwd.join(&block.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", block.path))?;
        }
        std::fs::write(&target, &block.content).map_err(|e| format!("{}: {e}", block.path))?;
        println!(
            "{}",
            serde_json::json!({"type": "assistant", "message": {"content": [{"type": "tool_use", "name": "Write", "input": {"file_path": block.path}}]}})
        );
        written.push(block.path);
    }
    if written.is_empty() {
        return Err("the work package names no file to write".into());
    }
    let name = format!("user.name={agent}");
    let email = format!("user.email={agent}@agents.kitty");
    let run = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("git")
            .args(["-c", &name, "-c", &email])
            .args(args)
            .current_dir(cwd)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_string()) }
    };
    run(&["add", "-A"])?;
    let message =
        if second_cycle { format!("{wp}: address review feedback") } else { format!("{wp}: {}", written.join(", ")) };
    run(&["commit", "-q", "-m", &message])?;
    Ok(format!("Wrote {}.\nKITTY-STATUS: done", written.join(", ")))
}

fn review(cwd: &Path, wp: &str) -> String {
    // WP03's first review asks for a test of empty input, once: until its branch has the commit
    // that addresses it (a reviewer only reads, so it keeps no marker of its own).
    let addressed = Command::new("git")
        .args(["log", "--format=%s", "-n", "20"])
        .current_dir(cwd)
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("address review feedback"));
    if wp == "WP03" && !addressed {
        return "The tests miss the empty-input case: add a test that count(\"\") is all zeros.\nKITTY-VERDICT: reject"
            .into();
    }
    format!("{wp} does what it says; the diff is small and clear.\nKITTY-VERDICT: approve")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_feature_is_valid_with_a_diamond() {
        let tmp = std::env::temp_dir().join(format!("kitty-demo-test-{}", std::process::id()));
        let feature = tmp.join(FEATURE);
        for (path, text) in FILES {
            let target = feature.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, text).unwrap();
        }
        let f = crate::load_feature(&feature).unwrap();
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(f.work_packages.len(), 6);
        let wp04 = f.work_package(&crate::WpId::parse("WP04").unwrap()).unwrap();
        assert_eq!(wp04.dependencies.len(), 2);
        assert_eq!(file_blocks(&f.work_packages[2].prompt).len(), 2);
        assert!(file_blocks(&f.work_packages[2].prompt)[1].after_review);
    }
}
