//! `kitty-orchestrator validate` run as a real process.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn sample_020() -> PathBuf {
    fixtures().join(
        "spec-kitty/01_frontmatter-lanes_mixed__020_at_370f288e5/kitty-specs/020-autonomous-multi-agent-orchestrator",
    )
}

fn bin() -> Command {
    Command::cargo_bin("kitty-orchestrator").unwrap()
}

#[test]
fn valid_feature_lists_wps_in_topological_order() {
    let out = bin().arg("validate").arg(sample_020()).assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("9 work packages"), "{text}");
    let pos = |id: &str| text.find(&format!("  {id} ")).unwrap_or_else(|| panic!("{id} missing:\n{text}"));
    assert!(pos("WP06") > pos("WP04") && pos("WP08") > pos("WP07") && pos("WP09") > pos("WP08"));
    assert!(text.contains("WP08   doing      CLI Commands"), "{text}");
    assert!(text.contains("after: WP02, WP03, WP04"), "{text}");
}

#[test]
fn json_output_parses() {
    let out = bin().args(["validate", "--json"]).arg(sample_020()).assert().success().get_output().stdout.clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["work_packages"].as_array().unwrap().len(), 9);
    assert_eq!(doc["work_packages"][0]["id"], "WP01");
    assert_eq!(doc["work_packages"][8]["lane"], "planned");
}

#[test]
fn cyclic_feature_exits_non_zero_and_prints_the_cycle() {
    let dir = fixtures().join("broken/01-cycle-two/001-cycle");
    bin()
        .arg("validate")
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("WP02-left.md:5: dependency cycle: WP02 -> WP05 -> WP02"));
}

#[test]
fn json_errors_list_every_problem() {
    let dir = fixtures().join("broken/22-many-problems-at-once/022-many");
    let out = bin().args(["validate", "--json"]).arg(&dir).assert().code(2).get_output().stdout.clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["code"], "feature_invalid");
    assert_eq!(doc["problems"].as_array().unwrap().len(), 4);
    assert_eq!(doc["problems"].as_array().unwrap().iter().filter(|p| p["kind"] == "cycle").count(), 1);
}

#[test]
fn every_broken_fixture_fails_with_its_expected_text() {
    let root = fixtures().join("broken");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    for case in cases {
        let expected = std::fs::read_to_string(case.join("expected.txt")).unwrap();
        let feature = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| !p.ends_with("expected.txt"))
            .unwrap();
        let output = bin().arg("validate").arg(&feature).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", case.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        for line in expected.lines() {
            assert!(stderr.contains(line), "{}: `{line}` not in\n{stderr}", case.display());
        }
    }
}

#[test]
fn slug_is_resolved_under_kitty_specs() {
    let repo = sample_020().parent().unwrap().parent().unwrap().to_path_buf();
    bin()
        .current_dir(repo)
        .args(["validate", "020-autonomous-multi-agent-orchestrator"])
        .assert()
        .success()
        .stdout(predicate::str::contains("9 work packages"));
}

#[test]
fn version_flag() {
    bin().arg("--version").assert().success().stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}
