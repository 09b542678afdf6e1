//! Every subcommand the CLI offers runs in this suite: the list comes from `--help` (clap's own),
//! and a subcommand no test file invokes fails here — `report` always panicked once, and no test
//! ran it. Also the tests of the commands nothing else covered: `report`, `orchestrate`.

use crate::common::{bin, repo};

fn tests_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/suite")
}

#[test]
fn every_subcommand_is_run_by_some_test() {
    let help = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let listed: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .expect("clap lists the commands")
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(listed.len() >= 15, "{listed:?}");
    let mut sources = String::new();
    for entry in std::fs::read_dir(tests_dir()).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "rs") {
            sources.push_str(&std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    // A test runs a subcommand as `.args(["<name>", …])`, `.args([flag, "<name>", …])` or `.arg("<name>")`.
    let invoked = |name: &str| {
        sources.contains(&format!(".arg(\"{name}\")"))
            || sources
                .split(".args([")
                .skip(1)
                .any(|call| call.split(']').next().is_some_and(|a| a.contains(&format!("\"{name}\""))))
    };
    let untested: Vec<&String> = listed.iter().filter(|c| !invoked(c)).collect();
    assert!(untested.is_empty(), "subcommands no test runs: {untested:?}");
}

#[test]
fn report_prints_markdown_or_json_and_takes_the_global_format() {
    let tmp = repo("097-report", 2, "");
    let dir = tmp.path();
    let run = bin().args(["run", "097-report"]).current_dir(dir).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stdout));
    let md = bin().args(["report", "097-report"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&md.stdout);
    assert_eq!(md.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&md.stderr));
    assert!(text.starts_with("# 097-report: complete") && text.contains("| WP02 |"), "{text}");
    let json = bin().args(["report", "097-report", "--json"]).current_dir(dir).output().unwrap();
    assert_eq!(json.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["outcome"], "complete", "{report:#}");
    // The global --format (how a feature is read) goes with it, as with every command.
    let both =
        bin().args(["--format", "spec-kitty", "report", "097-report", "--json"]).current_dir(dir).output().unwrap();
    assert_eq!(both.status.code(), Some(0), "{}", String::from_utf8_lossy(&both.stderr));
    let missing = bin().args(["report", "098-missing"]).current_dir(dir).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("098-missing"));
}

#[test]
fn orchestrate_plans_a_mission_and_names_one_it_cannot_find() {
    let tmp = repo("099-orch", 2, "");
    let dir = tmp.path();
    let plan = bin().args(["orchestrate", "--mission", "099-orch", "--dry-run"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&plan.stderr));
    assert!(text.contains("Dry run: configuration valid.") && text.contains("WP02"), "{text}");
    // spec-kitty-orchestrator's codes: 1 for anything but every WP approved.
    let missing = bin().args(["orchestrate", "--mission", "098-missing"]).current_dir(dir).output().unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("098-missing"));
    let run = bin().args(["orchestrate", "--mission", "099-orch"]).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(text.contains("Orchestration complete. All WPs are approved."), "{text}");
}

/// `release` frees a WP held by a run that is gone — its help must not call it "the blocked WP"
/// (releasing a blocked WP is refused: nobody owns it).
#[test]
fn release_help_names_what_it_releases() {
    let help = bin().args(["release", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(!text.contains("blocked WP") && text.contains("held by a run"), "{text}");
}
