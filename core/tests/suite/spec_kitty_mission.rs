//! Mission mode on a mission laid out the way spec-kitty 3.2.7 lays one out (built here without
//! spec-kitty: a coordination branch and worktree, `lanes.json`, a planning commit, status files
//! whose logs collide in merges): lanes with several WPs, dependency lanes, idempotent mirroring,
//! and a coordination worktree we may not commit in. The real spec-kitty checks the same runs in
//! tests/python/test_spec_kitty.py.

use std::path::Path;

use crate::common::{agent, config, fast, git, recorder, repo};
use kitty_orchestrator::engine::RunOutcome;
use kitty_orchestrator::spec_kitty::reduce::{EventLog, reduce, status_json};
use kitty_orchestrator::{Orchestrator, WpId};
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

const SLUG: &str = "demo-01M8T49B";
const MISSION_ID: &str = "01M8T49BM8Z7XQXV6Y6M4R3V7A";

fn genesis(wp: &str, n: u32) -> String {
    format!(
        r#"{{"actor": "finalize-tasks", "at": "2026-12-02T00:00:0{n}.000001+00:00", "event_id": "01M8T49C00000000000000000{n}", "evidence": null, "execution_mode": "worktree", "force": false, "from_lane": "genesis", "mission_id": "{MISSION_ID}", "mission_slug": "{SLUG}", "policy_metadata": null, "reason": "canonical bootstrap", "review_ref": null, "to_lane": "planned", "wp_id": "{wp}"}}"#
    )
}

/// `lanes`: (lane id, WPs, depends on lanes). WP files get `(id, deps, subtasks)`.
fn mission(dir: &Path, lanes: &[(&str, &[&str], &[&str])], wps: &[(&str, &[&str])]) {
    let feature = dir.join("kitty-specs").join(SLUG);
    std::fs::create_dir_all(feature.join("tasks")).unwrap();
    // The coordination branch starts at the initial commit and holds the status files.
    git(dir, &["branch", &format!("kitty/mission-{SLUG}")]);
    for (i, (id, deps)) in wps.iter().enumerate() {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        std::fs::write(
            feature.join(format!("tasks/{id}-work.md")),
            format!(
                "---\nwork_package_id: {id}\ntitle: Work {id}\ndependencies: [{}]\nsubtasks: [T{:03}]\n---\n# {id}\n\nCreate {id}.txt.\n",
                deps.join(", "),
                i + 1
            ),
        )
        .unwrap();
    }
    let meta = serde_json::json!({"coordination_branch": format!("kitty/mission-{SLUG}"), "mission_id": MISSION_ID,
        "mission_slug": SLUG, "slug": SLUG, "target_branch": "main", "topology": "coord", "mission_number": null});
    std::fs::write(feature.join("meta.json"), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    // The primary checkout's copy of the log holds a mission-level line only (as spec-kitty's).
    let created = format!(
        r#"{{"event_id": "01M8T49B000000000000000000", "event_type": "MissionCreated", "timestamp": "2026-12-02T00:00:00+00:00", "aggregate_id": "{MISSION_ID}"}}"#
    );
    std::fs::write(feature.join("status.events.jsonl"), format!("{created}\n")).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "planning"]);
    let planning = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    let lanes_json: Vec<Json> = lanes
        .iter()
        .enumerate()
        .map(|(i, (id, wps, deps))| {
            serde_json::json!({"lane_id": id, "wp_ids": wps, "depends_on_lanes": deps, "parallel_group": i, "write_scope": [], "predicted_surfaces": []})
        })
        .collect();
    let lanes_doc = serde_json::json!({"version": 1, "mission_slug": SLUG, "mission_id": MISSION_ID,
        "mission_branch": format!("kitty/mission-{SLUG}"), "target_branch": "main", "lanes": lanes_json,
        "planning_commit_sha": planning});
    std::fs::write(feature.join("lanes.json"), serde_json::to_string_pretty(&lanes_doc).unwrap()).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "lanes"]);
    // The coordination worktree with the bootstrap events, committed there.
    let coord = dir.join(".worktrees").join(format!("{SLUG}-coord"));
    git(dir, &["worktree", "add", "-q", coord.to_str().unwrap(), &format!("kitty/mission-{SLUG}")]);
    let status_dir = coord.join("kitty-specs").join(SLUG);
    std::fs::create_dir_all(&status_dir).unwrap();
    let lines: Vec<String> = wps.iter().enumerate().map(|(i, (id, _))| genesis(id, i as u32 + 1)).collect();
    let text = format!("{}\n", lines.join("\n"));
    std::fs::write(status_dir.join("status.events.jsonl"), &text).unwrap();
    let log = EventLog::parse(&text).unwrap();
    std::fs::write(status_dir.join("status.json"), status_json(&log, None, &serde_json::Map::new(), generation(dir)))
        .unwrap();
    git(&coord, &["add", "-A"]);
    git(&coord, &["commit", "-qm", "chore(spec-kitty): status transition batch"]);
}

/// The rules the orchestrator follows here (those of a spec-kitty on `PATH`, if any).
fn generation(dir: &Path) -> kitty_orchestrator::spec_kitty::Generation {
    kitty_orchestrator::spec_kitty::SpecKitty::detect(dir).generation()
}

fn coord_dir(dir: &Path) -> std::path::PathBuf {
    dir.join(".worktrees").join(format!("{SLUG}-coord"))
}

fn coord_log(dir: &Path) -> String {
    std::fs::read_to_string(coord_dir(dir).join("kitty-specs").join(SLUG).join("status.events.jsonl")).unwrap()
}

fn lanes_in_log(dir: &Path) -> Vec<(String, String)> {
    let reduced = reduce(&EventLog::parse(&coord_log(dir)).unwrap(), generation(dir));
    reduced.work_packages.iter().map(|(wp, s)| (wp.clone(), s["lane"].as_str().unwrap().to_string())).collect()
}

fn orchestrator(dir: &Path) -> Orchestrator {
    let cfg = config(
        "max_concurrent_wps = 3\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[agent("impl", &[]), agent("rev", &[])],
    );
    Orchestrator::open(dir, Some(cfg)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_run_in_order_in_one_worktree_and_start_from_their_dependency_lanes() {
    let tmp = repo();
    let dir = tmp.path();
    mission(
        dir,
        &[("lane-a", &["WP01", "WP02"], &[]), ("lane-b", &["WP03"], &[]), ("lane-c", &["WP04"], &["lane-a", "lane-b"])],
        &[("WP01", &[]), ("WP02", &[]), ("WP03", &[]), ("WP04", &["WP02", "WP03"])],
    );
    let orch = orchestrator(dir);
    let feature = orch.feature(SLUG).unwrap();
    // WP02 waits for WP01: they share lane-a's worktree.
    assert!(
        feature
            .work_package(&WpId::parse("WP02").unwrap())
            .unwrap()
            .dependencies
            .contains(&WpId::parse("WP01").unwrap())
    );
    let (sink, _events) = recorder();
    let summary = orch.run(SLUG, fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed, "{summary:#?}");

    let lane_a = format!("kitty/mission-{SLUG}-lane-a");
    let lane_c = format!("kitty/mission-{SLUG}-lane-c");
    let files_a = git(dir, &["ls-tree", "-r", "--name-only", &lane_a]);
    assert!(files_a.contains("WP01.txt") && files_a.contains("WP02.txt"), "{files_a}");
    let files_c = git(dir, &["ls-tree", "-r", "--name-only", &lane_c]);
    for wp in ["WP01", "WP02", "WP03", "WP04"] {
        assert!(files_c.contains(&format!("{wp}.txt")), "lane-c lacks {wp}: {files_c}");
    }
    // Every lane contains the planning commit; the worktrees sit where spec-kitty looks.
    let lanes_json: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("kitty-specs").join(SLUG).join("lanes.json")).unwrap())
            .unwrap();
    let planning = lanes_json["planning_commit_sha"].as_str().unwrap();
    for lane in ["lane-a", "lane-b", "lane-c"] {
        let branch = format!("kitty/mission-{SLUG}-{lane}");
        git(dir, &["merge-base", "--is-ancestor", planning, &branch]);
        assert!(dir.join(".worktrees").join(format!("{SLUG}-{lane}")).is_dir());
    }
    // The base merges took the union of the two status logs (the planning copy's mission line
    // and the coordination copy's lane lines), as spec-kitty's merge driver does.
    let merged_log = git(dir, &["show", &format!("{lane_c}:kitty-specs/{SLUG}/status.events.jsonl")]);
    assert!(merged_log.contains("MissionCreated") && merged_log.contains("canonical bootstrap"), "{merged_log}");

    // spec-kitty's view: every WP approved, status.json exactly what its reducer gives, all
    // committed in the coordination worktree.
    assert!(lanes_in_log(dir).iter().all(|(_, lane)| lane == "approved"), "{:?}", lanes_in_log(dir));
    let status_dir = coord_dir(dir).join("kitty-specs").join(SLUG);
    let snapshot = std::fs::read_to_string(status_dir.join("status.json")).unwrap();
    let previous: Json = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(
        status_json(
            &EventLog::parse(&coord_log(dir)).unwrap(),
            previous.as_object(),
            &serde_json::Map::new(),
            generation(dir)
        ),
        snapshot
    );
    assert_eq!(git(&coord_dir(dir), &["status", "--porcelain"]), "");
    let wp01 = &reduce(&EventLog::parse(&coord_log(dir)).unwrap(), generation(dir)).work_packages["WP01"];
    assert_eq!(wp01["subtasks"]["T001"], "done");
    assert_eq!(wp01["agent"], "impl");
    assert_eq!(wp01["review_result"]["verdict"], "approved");

    // Mirroring is idempotent: a second run (nothing to do) adds no line.
    let before = coord_log(dir);
    let (sink, _) = recorder();
    orch.run(SLUG, fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(coord_log(dir), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordination_worktree_we_may_not_commit_in_is_left_alone_and_the_run_goes_on() {
    let tmp = repo();
    let dir = tmp.path();
    mission(dir, &[("lane-a", &["WP01"], &[])], &[("WP01", &[])]);
    // Someone checked out another branch in the coordination worktree.
    git(&coord_dir(dir), &["checkout", "-q", "-b", "elsewhere"]);
    let before = coord_log(dir);
    let orch = orchestrator(dir);
    let (sink, _) = recorder();
    let summary = orch.run(SLUG, fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, RunOutcome::Completed);
    assert_eq!(coord_log(dir), before, "nothing may be written while the worktree is on another branch");
    // The summary says why, once per distinct problem.
    assert!(summary.warnings.iter().any(|w| w.contains("elsewhere") && w.contains("WP01")), "{:?}", summary.warnings);
    // Back on its branch, the next run catches spec-kitty's log up with everything.
    git(&coord_dir(dir), &["checkout", "-q", &format!("kitty/mission-{SLUG}")]);
    let (sink, _) = recorder();
    orch.run(SLUG, fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(lanes_in_log(dir), vec![("WP01".to_string(), "approved".to_string())]);
    let ids: Vec<String> = EventLog::parse(&coord_log(dir))
        .unwrap()
        .transitions
        .iter()
        .map(|t| t["event_id"].as_str().unwrap().to_string())
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_json_naming_an_unknown_wp_is_a_clear_error() {
    let tmp = repo();
    let dir = tmp.path();
    mission(dir, &[("lane-a", &["WP01", "WP09"], &[])], &[("WP01", &[])]);
    let err = orchestrator(dir).feature(SLUG).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("lanes.json") && text.contains("WP09"), "{text}");
    assert_eq!(err.code(), kitty_orchestrator::ErrorCode::FeatureInvalid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lanes_first_wp_resumed_keeps_the_base_its_lane_was_made_at() {
    let tmp = repo();
    let dir = tmp.path();
    mission(dir, &[("lane-a", &["WP01"], &[])], &[("WP01", &[])]);
    let failing = config(
        "max_retries = 0\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[agent("impl", &[("FAKE_MODE", "nonzero")]), agent("rev", &[])],
    );
    let (sink, _) = recorder();
    let first = Orchestrator::open(dir, Some(failing))
        .unwrap()
        .run(SLUG, fast(), sink, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(first.outcome, RunOutcome::Blocked);
    let orch = orchestrator(dir);
    let wp = WpId::parse("WP01").unwrap();
    let base_of = |orch: &Orchestrator| {
        let history = orch.history(SLUG, Some("WP01")).unwrap();
        history
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                kitty_orchestrator::state::WpEvent::WorktreeReady { base, .. } => Some(base.clone()),
                _ => None,
            })
            .unwrap()
    };
    let before = base_of(&orch);
    // The coordination branch moved since (every status commit moves it).
    orch.retry(SLUG, wp.as_str()).unwrap();
    let (sink, _) = recorder();
    let second = orch.run(SLUG, fast(), sink, CancellationToken::new()).await.unwrap();
    assert_eq!(second.outcome, RunOutcome::Completed, "{second:#?}");
    assert_eq!(base_of(&orch), before, "the resumed WP must keep its lane's base");
}
