"""Interop with the real spec-kitty-cli, 3.2.7 and 4.0 (installed into two venvs by scripts/test):
a mission built with its own commands, run through our engine with the fake agents, must look to
spec-kitty exactly as if its own tools had run it — and spec-kitty's landing command (`merge` in
3.x, `consolidate` in 4.0) must land it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import kitty_orchestrator as ko
import spec_kitty_mission
from spec_kitty_mission import coord_log, git, land_command, lane_events, make_mission, sk, sk_json
from test_engine import FAKE, config


@pytest.fixture(autouse=True, params=["3", "4"], ids=["spec-kitty-3.2", "spec-kitty-4.0"])
def spec_kitty_version(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs against both supported spec-kitty versions: the helpers' commands,
    our engine (KITTY_SPEC_KITTY) and the git merge drivers (PATH) all use the same one."""
    major: str = request.param
    program = spec_kitty_mission.SPEC_KITTYS[major]
    if not program.is_file():
        if os.environ.get("KITTY_REQUIRE_SPEC_KITTY"):
            raise AssertionError(f"spec-kitty {major} is not installed at {program} (scripts/test installs it)")
        pytest.skip(f"spec-kitty {major} is not installed at {program}")
    spec_kitty_mission.use_spec_kitty(major)
    monkeypatch.setenv("KITTY_SPEC_KITTY", str(program))
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    # consolidate (4.0) contacts origin first; these repositories have none.
    monkeypatch.setenv("SPEC_KITTY_ORIGIN_CHECK", "off")
    return major

GRAPH = {"WP01": [], "WP02": [], "WP03": ["WP01", "WP02"], "WP04": ["WP03"]}
APPROVED_PATH = [
    ("genesis", "planned"),
    ("planned", "claimed"),
    ("claimed", "in_progress"),
    ("in_progress", "for_review"),
    ("for_review", "in_review"),
    ("in_review", "approved"),
]


def mission_lanes(repo: Path, slug: str) -> dict[str, str]:
    state = sk_json(repo, "orchestrator-api", "mission-state", "--mission", slug)
    assert state["success"], state
    return {wp["wp_id"]: wp["lane"] for wp in state["data"]["work_packages"]}


def test_a_run_is_seen_by_spec_kitty_and_spec_kitty_merge_lands_it(tmp_path: Path) -> None:
    repo, slug = make_mission(tmp_path, GRAPH)
    assert set(mission_lanes(repo, slug).values()) == {"planned"}
    summary = ko.Orchestrator(repo, config()).run(slug)
    assert summary.outcome == "completed"

    # Its own readers: orchestrator-api, the drift check, the dashboard's data.
    assert mission_lanes(repo, slug) == {wp: "approved" for wp in GRAPH}
    validate = sk_json(repo, "agent", "status", "validate", "--mission", slug, "--json")
    assert validate["passed"] and validate["error_count"] == 0, validate
    board = sk_json(repo, "agent", "tasks", "status", "--mission", slug, "--json")
    assert {wp["id"]: wp["lane"] for wp in board["work_packages"]} == {wp: "approved" for wp in GRAPH}
    assert all(wp["agent"] == "impl" for wp in board["work_packages"])
    for wp in GRAPH:
        assert lane_events(repo, slug, wp) == APPROVED_PATH, wp
    # Its lanes, branches and worktrees: lane-c holds WP03 on top of both dependency lanes.
    lanes = {w.split()[-1].strip("[]") for w in git(repo, "worktree", "list").splitlines()}
    assert f"kitty/mission-{slug}-lane-a" in lanes and f"kitty/mission-{slug}-coord" not in lanes
    coord = repo / ".worktrees" / f"{slug}-coord"
    assert git(coord, "status", "--porcelain") == ""

    merged = sk(repo, land_command(), "--mission", slug, "--yes")
    assert "squash merge" in git(repo, "log", "--oneline", "feature/demo") or merged.returncode == 0
    landed = git(repo, "ls-tree", "-r", "--name-only", "feature/demo").split()
    assert all(f"{wp}.txt" in landed for wp in GRAPH), landed
    assert mission_lanes(repo, slug) == {wp: "done" for wp in GRAPH}


def test_a_rejection_shows_as_in_review_to_in_progress_with_the_feedback(tmp_path: Path) -> None:
    repo, slug = make_mission(tmp_path, {"WP01": []})
    cfg = config()
    # From a file: values in an agent's env are redacted from everything we write, as secrets.
    feedback = tmp_path / "feedback.txt"
    feedback.write_text("the edge case at zero is wrong")
    cfg["agents"]["rev"]["env"] = {
        "FAKE_VERDICT": "reject_once",
        "FAKE_FEEDBACK_FILE": str(feedback),
        "FAKE_STATE_DIR": str(tmp_path / "state"),
    }
    # The fake reviewer's own state directory (its marker), writable as a real CLI's ~/.claude.
    (tmp_path / "state").mkdir()
    cfg["agents"]["rev"]["writable"] = [str(tmp_path / "state")]
    assert ko.Orchestrator(repo, cfg).run(slug).outcome == "completed"
    events = [e for e in coord_log(repo, slug) if e.get("wp_id") == "WP01" and "to_lane" in e]
    events.sort(key=lambda e: (e["at"], e["event_id"]))
    rejection = [e for e in events if (e["from_lane"], e["to_lane"]) == ("in_review", "in_progress")]
    assert len(rejection) == 1
    assert "the edge case at zero is wrong" in rejection[0]["reason"]
    assert rejection[0]["review_result"]["verdict"] == "changes_requested"
    assert [(e["from_lane"], e["to_lane"]) for e in events][-3:] == APPROVED_PATH[-3:]
    assert sk_json(repo, "agent", "status", "validate", "--mission", slug, "--json")["passed"]
    assert mission_lanes(repo, slug) == {"WP01": "approved"}


RUNNER = """
import sys, json, kitty_orchestrator as ko
ko.Orchestrator(sys.argv[1], json.loads(sys.argv[3])).run(sys.argv[2])
"""


def test_kill_9_mid_run_then_resume_leaves_no_duplicate_and_no_gap(tmp_path: Path) -> None:
    repo, slug = make_mission(tmp_path, GRAPH)
    cfg = config({"FAKE_SLEEP_MS": "400"})
    import json

    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(repo), slug, json.dumps(cfg)], start_new_session=True)
    deadline = time.time() + 60
    # Kill once some WP is approved and another is still on its way.
    while time.time() < deadline:
        lanes = Counter(e["to_lane"] for e in coord_log(repo, slug) if "to_lane" in e)
        if lanes["approved"] >= 1:
            break
        time.sleep(0.05)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - the run ended first on a very fast machine
        pass
    proc.wait()
    assert ko.Orchestrator(repo, config()).run(slug).outcome == "completed"

    log = coord_log(repo, slug)
    ids = Counter(e["event_id"] for e in log)
    assert [i for i, n in ids.items() if n > 1] == []
    for wp in GRAPH:
        path = lane_events(repo, slug, wp)
        # A chain: each move starts where the previous one ended, from planned to approved.
        assert all(a[1] == b[0] for a, b in zip(path, path[1:])), (wp, path)
        assert path[0] == ("genesis", "planned") and path[-1][1] == "approved", (wp, path)
    assert sk_json(repo, "agent", "status", "validate", "--mission", slug, "--json")["passed"]
    assert mission_lanes(repo, slug) == {wp: "approved" for wp in GRAPH}


def test_our_merge_of_a_mission_lands_it_through_spec_kitty_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spec_kitty_mission import SPEC_KITTY

    monkeypatch.setenv("KITTY_SPEC_KITTY", str(SPEC_KITTY))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPEC_KITTY_NO_UPGRADE_CHECK", "1")
    # Our own option, not spec-kitty's environment, turns 4.0's origin check off (3.x has none).
    monkeypatch.delenv("SPEC_KITTY_ORIGIN_CHECK")
    repo, slug = make_mission(tmp_path, {"WP01": [], "WP02": ["WP01"]})
    orch = ko.Orchestrator(repo, config())
    assert orch.run(slug).outcome == "completed"
    dry = orch.merge(slug, dry_run=True, origin_check="off")
    assert dry.outcome == "dry_run" and dry.merged == ["WP01", "WP02"]
    report = orch.merge(slug, origin_check="off")
    assert report.outcome == "merged" and report.target == "feature/demo"
    assert report.commit == git(repo, "rev-parse", "feature/demo").strip()
    assert mission_lanes(repo, slug) == {"WP01": "done", "WP02": "done"}
    assert orch.status(slug).wps["WP02"].merged is not None
    # A later run changes nothing in spec-kitty's log: no second `done` for a merged WP.
    before = len(coord_log(repo, slug)) if (repo / ".worktrees" / f"{slug}-coord").exists() else None
    orch.run(slug)
    if before is not None:
        assert len(coord_log(repo, slug)) == before
    assert [e for e in lane_events(repo, slug, "WP02") if e[1] == "done"] == [("approved", "done")]


def test_an_unreachable_origin_is_spec_kitty_4s_refusal_and_our_origin_check_option_lifts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec_kitty_version: str
) -> None:
    monkeypatch.delenv("SPEC_KITTY_ORIGIN_CHECK")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPEC_KITTY_NO_UPGRADE_CHECK", "1")
    repo, slug = make_mission(tmp_path, {"WP01": []})
    git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    orch = ko.Orchestrator(repo, config())
    assert orch.run(slug).outcome == "completed"
    if spec_kitty_version == "4":
        # spec-kitty's default (enforce): it refuses, and our error says which command and why.
        with pytest.raises(ko.MergeError) as refused:
            orch.merge(slug)
        message = str(refused.value)
        assert "spec-kitty consolidate" in message and "origin unreachable" in message, message
        assert "merge --origin-check warn|off" in message, message
        assert mission_lanes(repo, slug) == {"WP01": "approved"}
    # 3.x checks no origin (the option is not passed); 4.0 is told not to.
    report = orch.merge(slug, origin_check="off")
    assert report.outcome == "merged"
    assert mission_lanes(repo, slug) == {"WP01": "done"}


ORCH_TOML = """max_concurrent_wps = 2
max_retries = 0
[agents]
implementation = ["impl"]
review = ["rev"]
[agents.impl]
command = ["{fake}"]
output = "stream-json"
env = {{ FAKE_MODE = "{mode}" }}
[agents.rev]
command = ["{fake}"]
output = "stream-json"
"""


def cli() -> str:
    """The CLI the Rust tests built: under target/<triple>/ when the test command set one."""
    target = Path(__file__).resolve().parents[2] / "target"
    triple = os.environ.get("CARGO_BUILD_TARGET")
    for build in ([target / triple / "debug"] if triple else []) + [target / "debug"]:
        if (build / "kitty-orchestrator").is_file():
            return str(build / "kitty-orchestrator")
    raise AssertionError(f"no kitty-orchestrator binary under {target}: run `cargo build -p kitty-orchestrator-cli`")


def test_orchestrate_is_a_drop_in_for_spec_kitty_orchestrator(tmp_path: Path) -> None:
    repo, slug = make_mission(tmp_path, {"WP01": [], "WP02": []})
    (repo / ".kittify" / "orchestrator.toml").write_text(ORCH_TOML.format(fake=FAKE, mode="ok"))
    args = [cli(), "orchestrate", "--mission", slug, "--impl-agent", "impl", "--review-agent", "rev", "--max-concurrent", "2"]
    done = subprocess.run(args, cwd=repo / "kitty-specs", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"spec-kitty {land_command()} --mission {slug}" in done.stdout
    assert mission_lanes(repo, slug) == {"WP01": "approved", "WP02": "approved"}


def test_orchestrate_exits_1_when_the_mission_is_not_merge_ready(tmp_path: Path) -> None:
    repo, slug = make_mission(tmp_path, {"WP01": []})
    (repo / ".kittify" / "orchestrator.toml").write_text(ORCH_TOML.format(fake=FAKE, mode="nonzero"))
    done = subprocess.run([cli(), "orchestrate", "-m", slug], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert mission_lanes(repo, slug)["WP01"] == "blocked"
    usage = subprocess.run([cli(), "orchestrate"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2


def older_feature(tmp_path: Path, fixture: str) -> tuple[Path, str]:
    """A spec-kitty project (its own `init`) holding one of the recorded older features."""
    import shutil

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "README.md").write_text("hello\n")
    sk(repo, "init", "--ai", "claude", "--non-interactive")
    source = Path(__file__).resolve().parent.parent / "fixtures" / "spec-kitty" / fixture / "kitty-specs"
    shutil.copytree(source, repo / "kitty-specs")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "older feature")
    (slug,) = [p.name for p in (repo / "kitty-specs").iterdir()]
    return repo, slug


def test_a_2x_flat_feature_shows_its_lanes_to_spec_kitty_after_a_run(tmp_path: Path) -> None:
    repo, slug = older_feature(tmp_path, "01_frontmatter-lanes_mixed__020_at_370f288e5")
    tasks = repo / "kitty-specs" / slug / "tasks"
    before = {p.name: p.read_text() for p in tasks.glob("WP*.md")}
    assert ko.Orchestrator(repo, config()).run(slug).outcome == "completed"
    # spec-kitty 3.2.7 reads lanes only from the log: what it shows is what the files say.
    board = sk_json(repo, "agent", "tasks", "status", "--mission", slug, "--json")
    lanes = {wp["id"]: wp["lane"] for wp in board["work_packages"]}
    assert set(lanes.values()) <= {"done", "approved"} and len(lanes) == 9, lanes
    assert sk_json(repo, "agent", "status", "validate", "--mission", slug, "--json")["passed"]
    # The 2.x way: frontmatter lane/agent/reviewer and an Activity Log line, one commit per move,
    # nothing left uncommitted, and WPs that did not move untouched byte for byte.
    for name, old in before.items():
        new = (tasks / name).read_text()
        if 'lane: "done"' in old:
            assert new == old, name
        else:
            assert 'lane: "done"' in new and 'review_status: "approved"' in new, name
            assert "lane=done – Review passed" in new.splitlines()[-1], name
    log = git(repo, "log", "--format=%s", "main")
    assert "chore: Move WP09 to done on spec 020 [rev]" in log
    assert git(repo, "status", "--porcelain", "--", "kitty-specs") == ""


def test_a_lane_directory_feature_moves_its_files_between_lane_directories(tmp_path: Path) -> None:
    repo, slug = older_feature(tmp_path, "05_legacy-lane-subdirs__007_at_63a55999d")
    tasks = repo / "kitty-specs" / slug / "tasks"
    assert sorted(p.parent.name for p in tasks.glob("*/WP*.md")) == ["for_review"] * 5 + ["planned"]
    assert ko.Orchestrator(repo, config()).run(slug).outcome == "completed"
    # 0.8 moved the file into its lane's directory and wrote its frontmatter; not committed.
    assert sorted(p.parent.name for p in tasks.glob("*/WP*.md")) == ["done"] * 6
    wp06 = next(tasks.glob("done/WP06*.md")).read_text()
    assert "lane=done" in wp06.splitlines()[-1]
    assert "kitty-specs" in git(repo, "status", "--porcelain")
    # Read back, the layout gives the lanes we wrote.
    feature = ko.load_feature(repo / "kitty-specs" / slug)
    assert {wp.id: wp.initial_lane for wp in feature.work_packages} == {f"WP0{k}": "done" for k in range(1, 7)}
    # spec-kitty 3.2.7 lists no WP of a lane-directory feature ("No work packages found"); its
    # status API reads lanes from the log we wrote beside the files.
    assert set(mission_lanes(repo, slug).values()) <= {"done", "approved"} and len(mission_lanes(repo, slug)) == 6
    # A second run keeps moving files, not editing them in place (the log made it look newer).
    assert ko.Orchestrator(repo, config()).run(slug).outcome == "completed"
    assert sorted(p.parent.name for p in tasks.glob("*/WP*.md")) == ["done"] * 6


def test_the_extension_example_drives_a_mission_in_process_and_lands_it(tmp_path: Path) -> None:
    from spec_kitty_mission import SPEC_KITTY, spec_kitty_env

    repo, slug = make_mission(tmp_path, {"WP01": [], "WP02": ["WP01"]})
    (repo / ".kittify" / "orchestrator.toml").write_text(ORCH_TOML.format(fake=FAKE, mode="ok"))
    example = Path(__file__).resolve().parents[2] / "examples" / "python" / "spec_kitty_extension.py"
    env = spec_kitty_env(tmp_path / "home")
    env["KITTY_SPEC_KITTY"] = str(SPEC_KITTY)
    done = subprocess.run(
        [sys.executable, str(example), str(repo), slug], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WP01: planned -> doing" in done.stdout and "WP02: for_review -> done" in done.stdout
    assert "landed on feature/demo" in done.stdout
    assert mission_lanes(repo, slug) == {"WP01": "done", "WP02": "done"}
