//! The four real spec-kitty samples load with the expected WPs, lanes and dependencies.

use std::path::PathBuf;

use kitty_orchestrator::{Feature, Lane, Layout, WpId, load_feature};

fn sample(folder: &str) -> Feature {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/spec-kitty").join(folder).join("kitty-specs");
    let dir = std::fs::read_dir(&root).unwrap().next().unwrap().unwrap().path();
    load_feature(&dir).unwrap_or_else(|err| panic!("{err}"))
}

fn id(s: &str) -> WpId {
    WpId::parse(s).unwrap()
}

fn lanes(feature: &Feature) -> Vec<(String, Lane)> {
    feature.work_packages.iter().map(|wp| (wp.id.to_string(), wp.initial_lane)).collect()
}

fn deps(feature: &Feature, wp: &str) -> Vec<String> {
    feature.work_package(&id(wp)).unwrap().dependencies.iter().map(|d| d.to_string()).collect()
}

#[test]
fn sample_01_flat_mixed_lanes() {
    let f = sample("01_frontmatter-lanes_mixed__020_at_370f288e5");
    assert_eq!(f.slug.as_str(), "020-autonomous-multi-agent-orchestrator");
    assert_eq!(f.layout, Layout::Flat);
    assert_eq!(f.work_packages.len(), 9);
    let expected: Vec<(String, Lane)> = (1..=9)
        .map(|n| {
            let lane = match n {
                1..=6 => Lane::Done,
                7 => Lane::ForReview,
                8 => Lane::Doing,
                _ => Lane::Planned,
            };
            (format!("WP{n:02}"), lane)
        })
        .collect();
    assert_eq!(lanes(&f), expected);
    assert_eq!(deps(&f, "WP06"), ["WP02", "WP03", "WP04"]);
    assert_eq!(deps(&f, "WP08"), ["WP05", "WP06", "WP07"]);
    let wp01 = f.work_package(&id("WP01")).unwrap();
    assert_eq!(wp01.title, "Foundation & Config");
    assert_eq!(wp01.subtasks, ["T001", "T002", "T003", "T004", "T005"]);
    assert_eq!(wp01.phase.as_deref(), Some("Phase 0 - Foundation"));
    assert!(wp01.prompt.starts_with("# Work Package Prompt: WP01"), "{}", &wp01.prompt[..40]);
    // Unknown keys are kept as data.
    assert_eq!(wp01.extra["agent"], "claude-opus");
    assert_eq!(wp01.extra["history"][0]["lane"], "planned");
    assert!(f.meta.target_branch.is_none());
    assert_eq!(f.meta.friendly_name.as_deref(), Some("Autonomous Multi-Agent Orchestrator"));
    // Fan-in: WP06 comes after all three of its dependencies.
    let order: Vec<String> = f.topological_order().iter().map(|i| i.to_string()).collect();
    let pos = |w: &str| order.iter().position(|o| o == w).unwrap();
    assert!(pos("WP06") > pos("WP02") && pos("WP06") > pos("WP03") && pos("WP06") > pos("WP04"));
    assert_eq!(order.len(), 9);
}

#[test]
fn sample_03_three_roots_mixed_quoting() {
    let f = sample("03_frontmatter-lanes_all-done__021_at_6062db7d");
    assert_eq!(f.work_packages.len(), 12);
    let roots: Vec<String> =
        f.work_packages.iter().filter(|wp| wp.dependencies.is_empty()).map(|wp| wp.id.to_string()).collect();
    assert_eq!(roots, ["WP01", "WP03", "WP12"]);
    assert!(f.work_packages.iter().all(|wp| wp.initial_lane == Lane::Done));
    // Unquoted block list style (WP06) and quoted flow style (WP02) both parse.
    assert_eq!(deps(&f, "WP06"), ["WP01"]);
    assert_eq!(deps(&f, "WP02"), ["WP01"]);
    assert_eq!(f.work_package(&id("WP06")).unwrap().title, "pytest Configuration");
}

#[test]
fn sample_05_legacy_lane_directories() {
    let f = sample("05_legacy-lane-subdirs__007_at_63a55999d");
    assert_eq!(f.layout, Layout::LaneDirectories);
    assert_eq!(f.work_packages.len(), 6);
    let expected: Vec<(String, Lane)> =
        (1..=6).map(|n| (format!("WP{n:02}"), if n <= 5 { Lane::ForReview } else { Lane::Planned })).collect();
    assert_eq!(lanes(&f), expected);
    assert!(f.work_packages.iter().all(|wp| wp.dependencies.is_empty()));
    // The `activity_log: |` block scalar is kept as text.
    assert!(f.work_packages[0].extra["activity_log"].as_str().unwrap().contains("lane=planned"));
}

#[test]
fn sample_06_event_log() {
    let f = sample("06_event-log-3x__020_at_HEAD");
    assert_eq!(f.layout, Layout::EventLog);
    assert_eq!(f.work_packages.len(), 9);
    assert!(f.work_packages.iter().all(|wp| wp.initial_lane == Lane::Done), "{:?}", lanes(&f));
    assert_eq!(f.meta.target_branch.as_deref(), Some("main"));
    assert_eq!(deps(&f, "WP06"), ["WP02", "WP03", "WP04"]);
}

#[test]
fn event_log_overrides_and_falls_back_to_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("030-events");
    std::fs::create_dir_all(dir.join("tasks")).unwrap();
    for n in 1..=3 {
        std::fs::write(
            dir.join(format!("tasks/WP0{n}-x.md")),
            format!("---\nwork_package_id: WP0{n}\ntitle: t{n}\nlane: planned\n---\nbody\n"),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("status.events.jsonl"),
        concat!(
            "{\"wp_id\":\"WP01\",\"to_lane\":\"claimed\"}\n",
            "{\"wp_id\":\"WP01\",\"kind\":\"annotation\"}\n",
            "{\"wp_id\":\"WP01\",\"to_lane\":\"in_review\"}\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("status.json"),
        r#"{"work_packages":{"WP01":{"lane":"planned"},"WP02":{"lane":"blocked"}}}"#,
    )
    .unwrap();
    let f = load_feature(&dir).unwrap();
    assert_eq!(
        lanes(&f),
        [("WP01".into(), Lane::ForReview), ("WP02".into(), Lane::Blocked), ("WP03".into(), Lane::Planned)]
    );
}

#[test]
fn odd_frontmatter_values_are_tolerated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("031-odd");
    std::fs::create_dir_all(dir.join("tasks")).unwrap();
    std::fs::write(
        dir.join("tasks/WP01-odd.md"),
        "\u{feff}---\nwork_package_id: WP01\nshell_pid: manual\nreview_status:\nsubtasks: T001, T002\n---\n\n# Prompt\n",
    )
    .unwrap();
    std::fs::write(dir.join("tasks/WP02.md"), "---\nwork_package_id: 'WP02'\ndependencies: WP01\n---\n").unwrap();
    std::fs::write(dir.join("tasks/notes.md"), "not a WP").unwrap();
    let f = load_feature(&dir).unwrap();
    let wp01 = &f.work_packages[0];
    assert_eq!(wp01.title, "WP01");
    assert_eq!(wp01.subtasks, ["T001", "T002"]);
    assert_eq!(wp01.extra["shell_pid"], "manual");
    assert_eq!(wp01.prompt, "# Prompt\n");
    assert_eq!(wp01.initial_lane, Lane::Planned);
    assert_eq!(deps(&f, "WP02"), ["WP01"]);
}
