//! Kiro specs as features: the recorded spec in `tests/fixtures/kiro/` read the way Kiro writes
//! it, ids from task numbers, document order as the default dependency, `_Depends_` replacing
//! it, requirements quoted into prompts, and broken task lists named by file and line.

use crate::common;

use std::path::{Path, PathBuf};

use kitty_orchestrator::{Lane, Layout, WpId, load_feature};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kiro").join(name)
}

fn id(s: &str) -> WpId {
    WpId::parse(s).unwrap()
}

fn spec(dir: &Path, tasks: &str) -> PathBuf {
    let spec = dir.join(".kiro/specs/kiro-demo");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::write(spec.join("tasks.md"), tasks).unwrap();
    spec
}

#[test]
fn the_recorded_kiro_spec_reads_as_leaf_tasks_in_document_order() {
    let feature = load_feature(fixture("user-auth")).unwrap();
    assert_eq!(feature.layout, Layout::Kiro);
    assert_eq!(feature.slug.as_str(), "user-auth");
    let ids: Vec<&str> = feature.work_packages.iter().map(|w| w.id.as_str()).collect();
    // 2 and 3 and 4 group sub-tasks; 2.3 is optional and not loaded.
    assert_eq!(
        ids,
        ["WP0100", "WP0201", "WP0202", "WP0301", "WP0302", "WP0303", "WP0401", "WP0402", "WP0500", "WP0600"]
    );
    let wp = |s: &str| feature.work_package(&id(s)).unwrap();
    assert_eq!(wp("WP0100").initial_lane, Lane::Done);
    assert_eq!(wp("WP0201").initial_lane, Lane::Done);
    assert_eq!(wp("WP0202").initial_lane, Lane::Planned);
    // Each task after the one before it (document order).
    assert_eq!(wp("WP0202").dependencies, [id("WP0201")]);
    assert_eq!(wp("WP0301").dependencies, [id("WP0202")]);
    assert_eq!(wp("WP0500").dependencies, [id("WP0402")]);
    // The prompt: the task, its parent, its details, its requirements quoted, the design.
    let prompt = &wp("WP0303").prompt;
    assert!(prompt.starts_with("# Task 3.3: Limit failed attempts\n"), "{prompt}");
    assert!(prompt.contains("Part of task 3: Implement sign-up and sign-in"));
    assert!(prompt.contains("Lock the account for 15 minutes after 5 failures"));
    assert!(prompt.contains("> ### Requirement 2"), "{prompt}");
    assert!(prompt.contains("> 2. WHEN a user fails to sign in 5 times"));
    assert!(!prompt.contains("### Requirement 3"));
    assert!(prompt.contains("## Design (design.md)") && prompt.contains("AttemptLimiter"));
    assert_eq!(wp("WP0303").phase.as_deref(), Some("Implement sign-up and sign-in"));
    assert_eq!(wp("WP0303").extra["kiro_task"], "3.3");
}

#[test]
fn depends_lines_replace_the_document_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = spec(
        tmp.path(),
        "- [ ] 1. Base\n- [ ] 2. Left\n  - _Depends: 1_\n- [ ] 3. Right\n  - _Depends: 1_\n- [ ] 4. Join\n  - _Depends: 2, 3_\n",
    );
    let feature = load_feature(&dir).unwrap();
    let deps = |s: &str| feature.work_package(&id(s)).unwrap().dependencies.clone();
    assert_eq!(deps("WP0200"), [id("WP0100")]);
    assert_eq!(deps("WP0300"), [id("WP0100")]);
    assert_eq!(deps("WP0400"), [id("WP0200"), id("WP0300")]);
}

#[test]
fn broken_task_lists_name_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    for (tasks, line, needle) in [
        ("- [ ] 1. One\n- [ ] Two without a number\n", 2, "no task number"),
        ("- [ ] 1. One\n- [ ] 1. Again\n", 2, "numbered twice"),
        ("- [ ] 1. One\n  - _Depends: 7_\n", 2, "depends on `7`, which is no task here"),
        ("- [ ] 1. One\n  - _Depends: 2_\n- [ ] 2. Two\n  - _Depends: 1_\n", 1, "dependency cycle: "),
        ("- [ ] 100. Too many\n", 1, "above 99"),
        ("# nothing here\n", 0, "no tasks"),
    ] {
        let dir = spec(tmp.path(), tasks);
        let err = load_feature(&dir).unwrap_err();
        let problem =
            err.problems.iter().find(|p| p.message.contains(needle)).unwrap_or_else(|| panic!("{tasks}: {err}"));
        assert!(problem.path.ends_with("tasks.md"), "{err}");
        if line > 0 {
            assert_eq!(problem.line, Some(line), "{tasks}: {err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiro_spec_runs_to_done_by_its_name() {
    use common::{agent, config, fast, git, recorder, repo};
    let tmp = repo();
    let dir = tmp.path();
    common::copy_dir(&fixture("user-auth"), &dir.join(".kiro/specs/user-auth"));
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "kiro spec"]);
    let before = std::fs::read(dir.join(".kiro/specs/user-auth/tasks.md")).unwrap();
    let cfg = config(
        "max_concurrent_wps = 2\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[agent("impl", &[]), agent("rev", &[])],
    );
    let orch = kitty_orchestrator::Orchestrator::open(dir, Some(cfg)).unwrap();
    let (sink, _) = recorder();
    let summary = orch.run("user-auth", fast(), sink, tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, kitty_orchestrator::engine::RunOutcome::Completed, "{summary:#?}");
    assert_eq!(summary.done, 10);
    // The last task's branch holds every task's work before it (document order).
    let files = git(dir, &["ls-tree", "-r", "--name-only", "user-auth-WP0600"]);
    for wp in ["WP0202", "WP0301", "WP0402", "WP0500", "WP0600"] {
        assert!(files.contains(&format!("{wp}.txt")), "{files}");
    }
    // The boxes of the tasks done now are ticked, and of the groups (2, 3, 4) whose sub-tasks
    // are all done (2.3 is optional and not run: it does not hold 2 back); nothing else in the
    // file changed: not the optional 2.3, not one other byte.
    let before = String::from_utf8(before).unwrap();
    let after = std::fs::read_to_string(dir.join(".kiro/specs/user-auth/tasks.md")).unwrap();
    let ticked = [
        "- [ ] 2. ",
        "- [ ] 3. ",
        "- [ ] 4. ",
        "- [ ] 2.2 ",
        "  - [ ] 3.1 ",
        "  - [ ] 3.2 ",
        "  - [ ] 3.3 ",
        "- [ ] 4.1 ",
        "- [ ] 4.2 ",
        "- [ ] 5. ",
        "- [ ] 6. ",
    ];
    let expected: String =
        before
            .split_inclusive('\n')
            .map(|line| {
                if ticked.iter().any(|t| line.starts_with(t)) {
                    line.replacen("[ ]", "[x]", 1)
                } else {
                    line.to_string()
                }
            })
            .collect();
    assert_eq!(after, expected);
    // A second run has nothing to do and changes nothing.
    let (sink, _) = recorder();
    orch.run("user-auth", fast(), sink, tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join(".kiro/specs/user-auth/tasks.md")).unwrap(), expected);
    // No spec-kitty files appear in a Kiro spec.
    assert!(!dir.join(".kiro/specs/user-auth/status.events.jsonl").exists());
}

/// (WP, implementation start, implementation end) of a run of `tasks`, the agent thinking 600 ms.
async fn spans(tasks: &str) -> Vec<(String, std::time::Instant, std::time::Instant)> {
    use common::{agent, config, fast, git, repo};
    use kitty_orchestrator::engine::Event;
    use std::sync::{Arc, Mutex};
    let tmp = repo();
    let dir = tmp.path();
    spec(dir, tasks);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "spec"]);
    let cfg = config(
        "max_concurrent_wps = 4\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
        &[agent("impl", &[("FAKE_SLEEP_MS", "600")]), agent("rev", &[])],
    );
    let orch = kitty_orchestrator::Orchestrator::open(dir, Some(cfg)).unwrap();
    let seen: Arc<Mutex<Vec<(std::time::Instant, Event)>>> = Arc::default();
    let sink_seen = seen.clone();
    let sink: kitty_orchestrator::engine::EventSink =
        Arc::new(move |e| sink_seen.lock().unwrap().push((std::time::Instant::now(), e)));
    let summary = orch.run("kiro-demo", fast(), sink, tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, kitty_orchestrator::engine::RunOutcome::Completed);
    let seen = seen.lock().unwrap();
    let mut out = Vec::new();
    for wp in ["WP0200", "WP0300"] {
        let start = seen.iter().find_map(|(t, e)| match e {
            Event::AgentStarted { wp: w, role: kitty_orchestrator::role::Role::Implementation, .. } if w == wp => {
                Some(*t)
            }
            _ => None,
        });
        let end = seen.iter().find_map(|(t, e)| match e {
            Event::AgentFinished { wp: w, role: kitty_orchestrator::role::Role::Implementation, .. } if w == wp => {
                Some(*t)
            }
            _ => None,
        });
        out.push((wp.to_string(), start.unwrap(), end.unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_with_depends_run_at_the_same_time_and_without_it_in_order() {
    let parallel = spans("- [ ] 1. Base\n- [ ] 2. Left\n  - _Depends: 1_\n- [ ] 3. Right\n  - _Depends: 1_\n").await;
    let (left, right) = (&parallel[0], &parallel[1]);
    assert!(left.1 < right.2 && right.1 < left.2, "the agents of 2 and 3 overlap: {parallel:?}");
    let ordered = spans("- [ ] 1. Base\n- [ ] 2. Left\n- [ ] 3. Right\n").await;
    assert!(ordered[1].1 >= ordered[0].2, "3 starts after 2 finished: {ordered:?}");
}

#[test]
fn a_markdown_task_list_reads_with_files_and_verify_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("PLAN.md");
    std::fs::write(
        &plan,
        "# Plan\n\n- [ ] Parse the input\n  - Files: src/parse.rs, src/lib.rs\n  - Verify: cargo test -p parse\n- [x] Write the README\n- [ ] Wire the CLI\n  - _Depends: 1_\n  - Verify: [\"sh\", \"-c\", \"test -f out && echo ok\"]\n",
    )
    .unwrap();
    let feature = load_feature(&plan).unwrap();
    assert_eq!(feature.layout, Layout::TaskList);
    assert_eq!(feature.slug.as_str(), "PLAN");
    let ids: Vec<&str> = feature.work_packages.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["WP0100", "WP0200", "WP0300"]);
    let wp = |s: &str| feature.work_package(&id(s)).unwrap();
    assert_eq!(wp("WP0200").initial_lane, Lane::Done);
    assert_eq!(wp("WP0300").dependencies, [id("WP0100")]);
    assert_eq!(wp("WP0100").extra["verify"], serde_json::json!(["cargo", "test", "-p", "parse"]));
    assert_eq!(wp("WP0300").extra["verify"], serde_json::json!(["sh", "-c", "test -f out && echo ok"]));
    let prompt = &wp("WP0100").prompt;
    assert!(prompt.contains("Files to touch: src/parse.rs, src/lib.rs"), "{prompt}");
    assert!(prompt.contains("`cargo test -p parse` must pass"), "{prompt}");
    std::fs::write(&plan, "- [ ] One\n  - Verify: [\"unclosed\"\n").unwrap();
    let err = load_feature(&plan).unwrap_err();
    assert_eq!(err.problems[0].line, Some(2), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_verify_line_fails_the_attempt_and_the_retry_passes_it() {
    use common::{agent, config, fast, git, recorder, repo};
    let tmp = repo();
    let dir = tmp.path();
    let marks = tempfile::tempdir().unwrap();
    let marker = marks.path().join("verify-ran-once");
    let check = format!("if [ -f {0} ]; then exit 0; else touch {0}; echo not yet; exit 1; fi", marker.display());
    let verify = serde_json::to_string(&["sh".to_string(), "-c".to_string(), check]).unwrap();
    std::fs::write(dir.join("PLAN.md"), format!("- [ ] Do the thing\n  - Verify: {verify}\n")).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "plan"]);
    let cfg = config(
        &format!(
            "max_retries = 1\nwritable = [{}]\n[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]",
            serde_json::to_string(&marks.path().display().to_string()).unwrap()
        ),
        &[agent("impl", &[]), agent("rev", &[])],
    );
    let orch = kitty_orchestrator::Orchestrator::open(dir, Some(cfg)).unwrap();
    let (sink, _) = recorder();
    let summary = orch.run("PLAN.md", fast(), sink, tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(summary.outcome, kitty_orchestrator::engine::RunOutcome::Completed, "{summary:#?}");
    let history = orch.history("PLAN", Some("WP0100")).unwrap();
    let failures: Vec<_> = history
        .iter()
        .filter_map(|e| match &e.event {
            kitty_orchestrator::state::WpEvent::AgentFinished {
                role: kitty_orchestrator::role::Role::Implementation,
                failure,
                ..
            } => Some(*failure),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [Some(kitty_orchestrator::FailureClass::NonzeroExit), None], "{history:#?}");
    let log = std::fs::read_to_string(dir.join(".kittify/logs/PLAN/WP0100-verify-1.log")).unwrap();
    assert!(log.contains("not yet"), "{log}");
    // Its box is ticked in PLAN.md.
    assert!(std::fs::read_to_string(dir.join("PLAN.md")).unwrap().starts_with("- [x] Do the thing\n"));
}

#[test]
fn optional_tasks_load_when_asked_and_a_format_overrides_the_path_shape() {
    use kitty_orchestrator::{FeatureFormat, LoadOptions, load_feature_with};
    let with = LoadOptions { include_optional: true, ..LoadOptions::default() };
    let feature = load_feature_with(fixture("user-auth"), &with).unwrap();
    let optional = feature.work_package(&id("WP0203")).expect("2.3 is loaded with include_optional");
    assert_eq!(optional.extra["optional"], true);
    // In document order it comes after 2.2 and before 3.1.
    assert_eq!(optional.dependencies, [id("WP0202")]);
    assert_eq!(feature.work_package(&id("WP0301")).unwrap().dependencies, [id("WP0203")]);
    assert!(load_feature(fixture("user-auth")).unwrap().work_package(&id("WP0203")).is_none());

    // A directory with tasks.md and a tasks/ directory reads as spec-kitty by its shape; --format
    // kiro reads its tasks.md.
    let tmp = tempfile::tempdir().unwrap();
    let dir = spec(tmp.path(), "- [ ] 1. Only task\n");
    std::fs::create_dir_all(dir.join("tasks")).unwrap();
    let err = load_feature(&dir).unwrap_err();
    assert!(err.to_string().contains("no work packages"), "{err}");
    let kiro = LoadOptions { format: Some(FeatureFormat::Kiro), ..LoadOptions::default() };
    let feature = load_feature_with(&dir, &kiro).unwrap();
    assert_eq!(feature.layout, Layout::Kiro);
    assert_eq!(feature.work_packages.len(), 1);
    // A markdown file read as a Kiro spec names the mismatch.
    let plan = tmp.path().join("PLAN.md");
    std::fs::write(&plan, "- [ ] One\n").unwrap();
    let err = load_feature_with(&plan, &kiro).unwrap_err();
    assert!(err.to_string().contains("format `kiro` reads a directory"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_ticks_again_what_a_checkout_unticked() {
    use common::{agent, config, fast, git, recorder, repo};
    let tmp = repo();
    let dir = tmp.path();
    let original = "# Plan\n\n- [ ] 1. Parse\n- [ ] 1.1 Lexer\n- [ ] 1.2 Parser\n- [ ] 2. Docs\n";
    std::fs::write(dir.join("PLAN.md"), original).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "plan"]);
    let cfg =
        config("[agents]\nimplementation = [\"impl\"]\nreview = [\"rev\"]", &[agent("impl", &[]), agent("rev", &[])]);
    let orch = kitty_orchestrator::Orchestrator::open(dir, Some(cfg)).unwrap();
    let (sink, _) = recorder();
    let summary = orch.run("PLAN.md", fast(), sink, tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(summary.done, 3, "{summary:#?}");
    let all_ticked = "# Plan\n\n- [x] 1. Parse\n- [x] 1.1 Lexer\n- [x] 1.2 Parser\n- [x] 2. Docs\n";
    assert_eq!(
        std::fs::read_to_string(dir.join("PLAN.md")).unwrap(),
        all_ticked,
        "the parent is ticked with its last sub-task"
    );
    // The file is checked out again (the ticks were never committed): the merge ticks them.
    git(dir, &["checkout", "--", "PLAN.md"]);
    let (sink, _) = recorder();
    let report = orch
        .merge(
            "PLAN",
            kitty_orchestrator::engine::MergeOptions::default(),
            sink,
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(report.outcome, kitty_orchestrator::engine::MergeOutcome::Merged, "{report:#?}");
    assert_eq!(report.ticked, [id("WP0101"), id("WP0102"), id("WP0200")], "{report:#?}");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(std::fs::read_to_string(dir.join("PLAN.md")).unwrap(), all_ticked);
}
