//! The git state store against real repositories, checked with the git binary.

use crate::common::{assert_fsck_clean, feature, git, lock_files, repo};
use kitty_orchestrator::role::Role;
use kitty_orchestrator::state::{
    Actor, Append, Owner, RunEvent, RunStatus, StateError, StateStore, WpEvent, run_ref, wp_ref,
};
use kitty_orchestrator::{FailureClass, Lane, WpId};

fn owner(run: &str) -> Owner {
    Owner { run_id: run.into(), pid: std::process::id(), host: kitty_orchestrator::state::this_host() }
}

fn id(s: &str) -> WpId {
    WpId::parse(s).unwrap()
}

#[test]
fn lifecycle_is_one_commit_per_event_readable_with_git() {
    let tmp = repo();
    let dir = tmp.path();
    let f = feature(dir, "001-demo", &[("WP01", "planned", &[]), ("WP02", "done", &["WP01"])]);
    let store = StateStore::open(dir).unwrap();
    let report = store.import_feature(&f, None).unwrap();
    assert_eq!(report.created, ["WP01", "WP02"]);
    let wp = id("WP01");
    let run = "01RUNAAAAAAAAAAAAAAAAAAAAA";
    let events = [
        WpEvent::Claimed { owner: owner(run) },
        WpEvent::WorktreeReady { path: "/wt".into(), branch: "001-demo-WP01".into(), base: "abc".into() },
        WpEvent::AgentStarted {
            agent: "codex".into(),
            role: Role::Implementation,
            attempt: 1,
            pid: Some(42),
            log: None,
        },
        WpEvent::AgentFinished {
            agent: "codex".into(),
            role: Role::Implementation,
            attempt: 1,
            failure: Some(FailureClass::Timeout),
            cost_usd: Some(0.25),
            duration_ms: 1000,
            head: None,
            withheld: Vec::new(),
            refused: Vec::new(),
            session: None,
        },
        WpEvent::RetryScheduled { agent: "codex".into(), attempt: 2, delay_ms: 10, failure: FailureClass::Timeout },
        WpEvent::AgentStarted {
            agent: "codex".into(),
            role: Role::Implementation,
            attempt: 2,
            pid: Some(43),
            log: None,
        },
        WpEvent::AgentFinished {
            agent: "codex".into(),
            role: Role::Implementation,
            attempt: 2,
            failure: None,
            cost_usd: Some(0.5),
            duration_ms: 2000,
            head: Some("def".into()),
            withheld: Vec::new(),
            refused: Vec::new(),
            session: None,
        },
        WpEvent::Submitted { head: "def".into() },
        WpEvent::AgentStarted { agent: "claude-code".into(), role: Role::Review, attempt: 1, pid: None, log: None },
        WpEvent::Approved { reviewer: "claude-code".into() },
    ];
    for event in &events {
        store.append(&f.slug, &wp, &Append::new(event.clone()).run(run).by(Actor::agent("codex"))).unwrap();
    }
    let state = store.wp_state(&f.slug, &wp).unwrap().unwrap();
    assert_eq!((state.lane, state.seq, state.attempts_total), (Lane::Done, 10, 3));
    assert_eq!(state.cost_usd, 0.75);
    assert_eq!(state.agents_used, ["codex", "claude-code"]);

    // The git binary sees one commit per event (import + 10), with the trailers.
    let name = wp_ref(&f.slug, &wp);
    let subjects = git(dir, &["log", "--format=%s", &name]);
    assert_eq!(subjects.lines().count(), 11, "{subjects}");
    assert!(subjects.contains("WP01: doing -> for_review (codex, attempt 2)"), "{subjects}");
    assert!(subjects.contains("WP01: planned -> doing"), "{subjects}");
    let lanes = git(dir, &["log", "--format=%(trailers:key=Kitty-Lane,valueonly)", &name]);
    let lanes: Vec<&str> = lanes.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lanes.first(), Some(&"done"));
    assert_eq!(lanes.last(), Some(&"planned"));
    let seqs = git(dir, &["log", "--format=%(trailers:key=Kitty-Seq,valueonly)", &name]);
    let seqs: Vec<u64> = seqs.lines().filter(|l| !l.is_empty()).map(|l| l.parse().unwrap()).collect();
    assert_eq!(seqs, (0..=10).rev().collect::<Vec<u64>>());
    let json: serde_json::Value = serde_json::from_str(&git(dir, &["show", &format!("{name}:state.json")])).unwrap();
    assert_eq!(json["lane"], "done");
    assert_eq!(json["format"], 1);
    // Author = actor, committer = the repository's identity.
    let who = git(dir, &["log", "-1", "--format=%an|%cn", &name]);
    assert_eq!(who.trim(), "codex|Test User");
    // The board: one ref per WP.
    let board = git(dir, &["for-each-ref", "--format=%(refname)", "refs/kitty/wp/001-demo/"]);
    assert_eq!(board.lines().count(), 2);

    let history = store.history(&f.slug, &wp).unwrap();
    assert_eq!(history.len(), 11);
    assert_eq!(history[0].state.last_event.name(), "imported");
    assert_eq!(history[10].state.last_event, WpEvent::Approved { reviewer: "claude-code".into() });
    let all = store.feature_states(&f.slug).unwrap();
    assert_eq!(all[&id("WP02")].lane, Lane::Done);
    assert_fsck_clean(dir);
}

#[test]
fn illegal_transitions_leave_the_ref_unchanged() {
    let tmp = repo();
    let f = feature(tmp.path(), "002-illegal", &[("WP01", "planned", &[])]);
    let store = StateStore::open(tmp.path()).unwrap();
    store.import_feature(&f, None).unwrap();
    let name = wp_ref(&f.slug, &id("WP01"));
    let before = git(tmp.path(), &["rev-parse", &name]);
    let err = store.append(&f.slug, &id("WP01"), &Append::new(WpEvent::Approved { reviewer: "x".into() })).unwrap_err();
    assert!(matches!(err, StateError::IllegalTransition { lane: Lane::Planned, .. }), "{err}");
    assert_eq!(err.code(), "illegal_transition");
    assert!(err.to_string().contains("refs/kitty/wp/002-illegal/WP01"), "{err}");
    assert_eq!(git(tmp.path(), &["rev-parse", &name]), before);
    // Appending to a WP that was never imported names the missing ref.
    let err = store.append(&f.slug, &id("WP09"), &Append::new(WpEvent::Retried)).unwrap_err();
    assert_eq!(err.code(), "state_missing");
}

#[test]
fn import_never_overwrites_and_event_ids_are_idempotent() {
    let tmp = repo();
    let f = feature(tmp.path(), "003-import", &[("WP01", "planned", &[]), ("WP02", "planned", &[])]);
    let store = StateStore::open(tmp.path()).unwrap();
    store.import_feature(&f, None).unwrap();
    let claim = Append::new(WpEvent::Claimed { owner: owner("r1") }).run("r1");
    let first = store.append(&f.slug, &id("WP01"), &claim).unwrap();
    let again = store.append(&f.slug, &id("WP01"), &claim).unwrap();
    assert_eq!(first, again);
    assert_eq!(store.history(&f.slug, &id("WP01")).unwrap().len(), 2);
    // Re-import: WP01 keeps its claimed state.
    let report = store.import_feature(&f, None).unwrap();
    assert_eq!(report.existing, ["WP01", "WP02"]);
    assert_eq!(store.wp_state(&f.slug, &id("WP01")).unwrap().unwrap().lane, Lane::Doing);
}

#[test]
fn trailer_injection_is_impossible() {
    let tmp = repo();
    let f = feature(tmp.path(), "004-inject", &[("WP01", "planned", &[])]);
    let store = StateStore::open(tmp.path()).unwrap();
    store.import_feature(&f, None).unwrap();
    let evil = "agent says\nKitty-Lane: done\nKitty-Seq: 99";
    store
        .append(
            &f.slug,
            &id("WP01"),
            &Append::new(WpEvent::Blocked { reason: evil.into() }).body(format!("{evil}\n\nKitty-Lane: done")),
        )
        .unwrap();
    let name = wp_ref(&f.slug, &id("WP01"));
    let lanes = git(tmp.path(), &["log", "-1", "--format=%(trailers:key=Kitty-Lane,valueonly)", &name]);
    assert_eq!(lanes.trim(), "blocked");
    let reason = git(tmp.path(), &["log", "-1", "--format=%(trailers:key=Kitty-Reason,valueonly)", &name]);
    assert_eq!(reason.trim(), "agent says Kitty-Lane: done Kitty-Seq: 99");
    // The whole reason is kept in state.json.
    assert_eq!(store.wp_state(&f.slug, &id("WP01")).unwrap().unwrap().reason.as_deref(), Some(evil));
}

#[test]
fn corrupted_state_is_an_error_not_a_panic() {
    let tmp = repo();
    let dir = tmp.path();
    let f =
        feature(dir, "005-corrupt", &[("WP01", "planned", &[]), ("WP02", "planned", &[]), ("WP03", "planned", &[])]);
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&f, None).unwrap();

    // A ref pointing at a blob.
    let blob = git(dir, &["hash-object", "-w", "README.md"]);
    git(dir, &["update-ref", &wp_ref(&f.slug, &id("WP01")), blob.trim()]);
    let err = store.wp_state(&f.slug, &id("WP01")).unwrap_err();
    assert_eq!(err.code(), "state_corrupt");
    assert!(err.to_string().contains("points at a blob"), "{err}");

    // state.json that is not JSON, and one of an unknown format version.
    let commit_with = |content: &str, message: &str| {
        let path = dir.join("state.json");
        std::fs::write(&path, content).unwrap();
        let blob = git(dir, &["hash-object", "-w", "state.json"]);
        std::fs::remove_file(&path).unwrap();
        let tree = std::process::Command::new("git")
            .args(["mktree"])
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(format!("100644 blob {}\tstate.json\n", blob.trim()).as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        let tree = String::from_utf8(tree.stdout).unwrap();
        git(dir, &["commit-tree", tree.trim(), "-m", message]).trim().to_string()
    };
    let not_json = commit_with("{ nope", "WP02: broken");
    git(dir, &["update-ref", &wp_ref(&f.slug, &id("WP02")), &not_json]);
    let err = store.wp_state(&f.slug, &id("WP02")).unwrap_err();
    assert!(err.to_string().contains("is not JSON"), "{err}");

    let good = git(dir, &["show", &format!("{}:state.json", wp_ref(&f.slug, &id("WP03")))]);
    let future = good.replace("\"format\": 1", "\"format\": 7");
    let future_commit = commit_with(&future, "WP03: future");
    git(dir, &["update-ref", &wp_ref(&f.slug, &id("WP03")), &future_commit]);
    let err = store.wp_state(&f.slug, &id("WP03")).unwrap_err();
    assert!(err.to_string().contains("format version 7"), "{err}");

    // Trailers that disagree with state.json.
    let lying = commit_with(&good, "WP03: lies\n\nKitty-WP: WP03\nKitty-Lane: done\nKitty-Seq: 0\nKitty-Event-Id: x\n");
    git(dir, &["update-ref", &wp_ref(&f.slug, &id("WP03")), &lying]);
    let err = store.wp_state(&f.slug, &id("WP03")).unwrap_err();
    assert!(err.to_string().contains("trailer Kitty-Lane is `done` but state.json says planned"), "{err}");
    // An append onto corrupt state refuses too, and leaves it alone.
    let err = store.append(&f.slug, &id("WP03"), &Append::new(WpEvent::Retried)).unwrap_err();
    assert_eq!(err.code(), "state_corrupt");
    // A feature scan reports the first corrupt ref rather than guessing.
    assert!(store.feature_states(&f.slug).is_err());
}

#[test]
fn run_chain_and_run_lock() {
    let tmp = repo();
    let f = feature(tmp.path(), "006-run", &[("WP01", "planned", &[])]);
    let store = StateStore::open(tmp.path()).unwrap();
    assert!(store.run_state(&f.slug).unwrap().is_none());
    let me = owner("run-1");
    let lock = store.lock_run(&f.slug, &me).unwrap();
    assert!(store.run_is_locked(&f.slug));
    let err = store.lock_run(&f.slug, &owner("run-2")).unwrap_err();
    assert_eq!(err.code(), "run_locked");
    assert!(err.to_string().contains("run-1"), "{err}");
    // Finishing a run that never started is refused.
    assert!(store.append_run(&f.slug, &RunEvent::Finished { summary: serde_json::json!({}) }, "").is_err());
    store.append_run(&f.slug, &RunEvent::Started { owner: me.clone() }, "").unwrap();
    let state = store.append_run(&f.slug, &RunEvent::Aborted { reason: "user".into() }, "").unwrap();
    assert_eq!(state.status, RunStatus::Aborted);
    store.append_run(&f.slug, &RunEvent::Started { owner: me.clone() }, "resumed").unwrap();
    let summary = serde_json::json!({"done": 1});
    let state = store.append_run(&f.slug, &RunEvent::Finished { summary: summary.clone() }, "").unwrap();
    assert_eq!((state.status, state.runs, state.summary), (RunStatus::Finished, 2, Some(summary)));
    drop(lock);
    assert!(!store.run_is_locked(&f.slug));
    store.lock_run(&f.slug, &owner("run-3")).unwrap();
    let log = git(tmp.path(), &["log", "--format=%(trailers:key=Kitty-Run-Status,valueonly)", &run_ref(&f.slug)]);
    let statuses: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(statuses, ["finished", "running", "aborted", "running"]);
}

#[test]
fn notes_are_readable_with_git_and_packed_refs_still_read() {
    let tmp = repo();
    let dir = tmp.path();
    let f = feature(dir, "007-notes", &[("WP01", "planned", &[])]);
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&f, None).unwrap();
    let head = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    store.add_note(&head, &serde_json::json!({"agent": "codex", "attempt": 1, "cost_usd": 0.1})).unwrap();
    store.add_note(&head, &serde_json::json!({"verdict": "approve", "reviewer": "claude-code"})).unwrap();
    store.add_note(&head, &serde_json::json!({"verdict": "approve", "reviewer": "claude-code"})).unwrap();
    let shown = git(dir, &["notes", "--ref=kitty", "show", &head]);
    assert_eq!(shown.lines().count(), 2, "{shown}");
    assert!(git(dir, &["log", "-1", "--notes=kitty", "--format=%N"]).contains("\"agent\":\"codex\""));
    assert_eq!(store.notes(&head).unwrap().len(), 2);

    store.pack_refs().unwrap();
    assert!(std::fs::read_to_string(dir.join(".git/packed-refs")).unwrap().contains("refs/kitty/wp/007-notes/WP01"));
    assert!(!dir.join(".git/refs/kitty/wp/007-notes/WP01").exists());
    assert_eq!(store.wp_state(&f.slug, &id("WP01")).unwrap().unwrap().lane, Lane::Planned);
    store.append(&f.slug, &id("WP01"), &Append::new(WpEvent::Claimed { owner: owner("r") })).unwrap();
    assert_eq!(store.feature_states(&f.slug).unwrap()[&id("WP01")].lane, Lane::Doing);
    assert!(lock_files(&dir.join(".git")).is_empty());
    assert_fsck_clean(dir);
}

#[test]
fn two_notes_histories_merge_record_by_record() {
    let tmp = repo();
    let dir = tmp.path();
    let store = StateStore::open(dir).unwrap();
    let first = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    git(dir, &["commit", "-q", "--allow-empty", "-m", "second"]);
    let second = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    store.add_note(&first, &serde_json::json!({"machine": "a", "n": 1})).unwrap();
    let base = store.notes_tip().unwrap().unwrap();
    // Machine a notes the second commit; machine b (from the same base) notes the first again.
    store.add_note(&second, &serde_json::json!({"machine": "a", "n": 2})).unwrap();
    let theirs = store.notes_tip().unwrap().unwrap();
    git(dir, &["update-ref", "refs/notes/kitty", &base.to_string()]);
    store.add_note(&first, &serde_json::json!({"machine": "b", "n": 3})).unwrap();
    let ours = store.notes_tip().unwrap().unwrap();

    let merged = store.absorb_notes(theirs).unwrap();
    assert_eq!(store.notes_tip().unwrap(), Some(merged));
    let parents = git(dir, &["log", "-1", "--format=%P", &merged.to_string()]);
    assert_eq!(parents.trim(), format!("{ours} {theirs}"));
    let on_first: Vec<_> = store.notes(&first).unwrap().iter().map(|r| r["n"].as_u64().unwrap()).collect();
    assert_eq!(on_first, [1, 3]);
    assert_eq!(store.notes(&second).unwrap()[0]["machine"], "a");
    assert!(git(dir, &["notes", "--ref=kitty", "show", &first]).contains("\"machine\":\"b\""));
    // Taking in what is already held changes nothing; a history ahead of ours is fast-forwarded.
    assert_eq!(store.absorb_notes(theirs).unwrap(), merged);
    git(dir, &["update-ref", "refs/notes/kitty", &base.to_string()]);
    assert_eq!(store.absorb_notes(merged).unwrap(), merged);
    assert_fsck_clean(dir);
}

#[test]
fn liveness_of_owners() {
    use kitty_orchestrator::state::{Liveness, liveness};
    assert_eq!(liveness(&owner("me")), Liveness::Alive);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let dead = Owner { run_id: "x".into(), pid, host: kitty_orchestrator::state::this_host() };
    assert_eq!(liveness(&dead), Liveness::Dead);
    let remote = Owner { run_id: "x".into(), pid: 1, host: "another-machine.invalid".into() };
    assert_eq!(liveness(&remote), Liveness::Unknown);
}

#[test]
fn the_readme_inspection_commands_work() {
    let tmp = repo();
    let dir = tmp.path();
    let f = feature(dir, "008-readme", &[("WP01", "planned", &[]), ("WP03", "planned", &[])]);
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&f, None).unwrap();
    let wp3 = id("WP03");
    store.append(&f.slug, &wp3, &Append::new(WpEvent::Claimed { owner: owner("r") })).unwrap();
    store.append(&f.slug, &wp3, &Append::new(WpEvent::Submitted { head: "abc".into() }).run("r")).unwrap();
    store.append_run(&f.slug, &RunEvent::Started { owner: owner("r") }, "").unwrap();
    let board =
        git(dir, &["for-each-ref", "--format=%(refname:lstrip=4) %(contents:subject)", "refs/kitty/wp/008-readme/"]);
    assert_eq!(board, "WP01 WP01: imported as planned\nWP03 WP03: doing -> for_review\n");
    let log = git(
        dir,
        &[
            "log",
            "--format=%h %<(10)%(trailers:key=Kitty-Lane,valueonly,separator=) %s",
            "refs/kitty/wp/008-readme/WP03",
        ],
    );
    let lanes: Vec<&str> = log.lines().map(|l| l.split_whitespace().nth(1).unwrap()).collect();
    assert_eq!(lanes, ["for_review", "doing", "planned"], "{log}");
    let snapshot: serde_json::Value =
        serde_json::from_str(&git(dir, &["show", "refs/kitty/wp/008-readme/WP03:state.json"])).unwrap();
    assert_eq!(snapshot["lane"], "for_review");
    let run = git(
        dir,
        &["log", "--format=%s %(trailers:key=Kitty-Run-Status,valueonly,separator=)", "refs/kitty/run/008-readme"],
    );
    assert_eq!(run.trim(), "run 008-readme: started running");
}

/// Loose object files under `.git/objects/xx/`.
fn loose_objects(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join(".git/objects"))
        .unwrap()
        .flatten()
        .filter(|d| d.file_name().len() == 2)
        .map(|d| std::fs::read_dir(d.path()).unwrap().count())
        .sum()
}

#[test]
fn a_runs_state_objects_are_packed_and_read_the_same() {
    let tmp = repo();
    let dir = tmp.path();
    let f = feature(dir, "007-pack", &[("WP01", "planned", &[]), ("WP02", "planned", &[]), ("WP03", "planned", &[])]);
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&f, None).unwrap();
    for wp in ["WP01", "WP02"] {
        store.append(&f.slug, &id(wp), &Append::new(WpEvent::Claimed { owner: owner("r1") }).run("r1")).unwrap();
    }
    store.append_run(&f.slug, &RunEvent::Started { owner: owner("r1") }, "").unwrap();
    let loose_before = loose_objects(dir);
    let board_before = StateStore::open(dir).unwrap().board(&f.slug).unwrap().states;
    let history_before = store.history(&f.slug, &id("WP01")).unwrap();

    // 3 imports + 2 claims + 1 run event, three objects each.
    assert_eq!(store.pack_objects(&f.slug).unwrap(), 18);
    assert_eq!(loose_objects(dir), loose_before - 18, "the packed objects' loose copies are gone");
    assert_eq!(store.pack_objects(&f.slug).unwrap(), 0, "nothing left to pack");
    assert_fsck_clean(dir);
    // Read back from the pack, by a fresh store (nothing cached) and by git.
    let fresh = StateStore::open(dir).unwrap();
    assert_eq!(fresh.board(&f.slug).unwrap().states, board_before);
    let history: Vec<_> = fresh.history(&f.slug, &id("WP01")).unwrap().into_iter().map(|e| e.state).collect();
    assert_eq!(history, history_before.into_iter().map(|e| e.state).collect::<Vec<_>>());
    let shown = git(dir, &["show", &format!("{}:state.json", wp_ref(&f.slug, &id("WP02")))]);
    assert!(shown.contains("\"lane\": \"doing\""), "{shown}");
    let verify = git(dir, &["count-objects", "-v"]);
    assert!(verify.contains("packs: 1"), "{verify}");

    // Events after the pack are packed by the next call, and only they are.
    let after = Append::new(WpEvent::Released { reason: "stop".into() }).run("r1");
    store.append(&f.slug, &id("WP01"), &after).unwrap();
    let board_loose = StateStore::open(dir).unwrap().board(&f.slug).unwrap().states;
    assert_eq!(store.pack_objects(&f.slug).unwrap(), 3);
    assert_fsck_clean(dir);
    assert_eq!(StateStore::open(dir).unwrap().wp_state(&f.slug, &id("WP01")).unwrap().unwrap().lane, Lane::Doing);
    // Two packs, read straight from their mappings; then git's own repack (compressed, with
    // deltas), which a board reads through libgit2: the same board every time.
    assert_eq!(StateStore::open(dir).unwrap().board(&f.slug).unwrap().states, board_loose);
    git(dir, &["repack", "-a", "-d", "-f", "-q", "--depth=50", "--window=50"]);
    assert!(git(dir, &["count-objects", "-v"]).contains("packs: 1"));
    assert_eq!(StateStore::open(dir).unwrap().board(&f.slug).unwrap().states, board_loose);
    assert_eq!(store.board(&f.slug).unwrap().states, board_loose, "a store that mapped the old packs reads on");
}

#[test]
fn a_cached_snapshot_reached_through_the_wrong_ref_is_still_corrupt() {
    let tmp = repo();
    let dir = tmp.path();
    let f = feature(dir, "008-cache", &[("WP01", "planned", &[]), ("WP02", "planned", &[])]);
    let store = StateStore::open(dir).unwrap();
    store.import_feature(&f, None).unwrap();
    // The store has read (and cached) WP01's tip; WP02's ref is then pointed at it.
    store.wp_state(&f.slug, &id("WP01")).unwrap().unwrap();
    let tip = git(dir, &["rev-parse", &wp_ref(&f.slug, &id("WP01"))]);
    git(dir, &["update-ref", &wp_ref(&f.slug, &id("WP02")), tip.trim()]);
    let err = store.wp_state(&f.slug, &id("WP02")).unwrap_err();
    assert_eq!(err.code(), "state_corrupt");
    assert!(err.to_string().contains("holds the state of 008-cache/WP01"), "{err}");
    let board = store.board(&f.slug).unwrap();
    assert_eq!(board.corrupt.len(), 1, "{:?}", board.corrupt);
    assert!(board.corrupt[0].reference.ends_with("/WP02"));
    // Handed over state by state (what the bindings build from), the same board.
    let mut each = Vec::new();
    let prefix = format!("refs/kitty/wp/{}/", f.slug);
    let streamed = store.board_each(&f.slug, &prefix, &mut |id, state| each.push((id, state))).unwrap();
    assert!(streamed.states.is_empty());
    assert_eq!(streamed.corrupt, board.corrupt);
    assert_eq!(each.into_iter().collect::<std::collections::BTreeMap<_, _>>(), board.states);
    // A write by someone else moves the tip: the store reads the new tip, not its memory.
    git(dir, &["update-ref", &wp_ref(&f.slug, &id("WP02")), tip.trim()]);
    let other = StateStore::open(dir).unwrap();
    other.append(&f.slug, &id("WP01"), &Append::new(WpEvent::Claimed { owner: owner("r2") }).run("r2")).unwrap();
    assert_eq!(store.wp_state(&f.slug, &id("WP01")).unwrap().unwrap().lane, Lane::Doing);
}
