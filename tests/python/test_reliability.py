"""The reliability round (issue 12) from Python: events never hold the engine up, a terminated
host leaves no agent behind, numeric options are range-checked, stuck WPs can be released."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import kitty_orchestrator as ko
from test_engine import FAKE, agents_of, config, git, make_repo


def test_a_slow_callback_never_delays_a_timeout(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "301-slow", {"WP01": []})
    cfg = config({"FAKE_MODE": "hang"})
    cfg["max_retries"] = 0
    cfg["agents"]["impl"]["timeout_seconds"] = 1
    finished: list[ko.AgentFinished] = []

    def slow(event: ko.Event) -> None:
        if event.type == "agent_started":
            time.sleep(4)  # user code that blocks for a long time
        if isinstance(event, ko.AgentFinished):
            finished.append(event)

    summary = ko.Orchestrator(repo, cfg).run("301-slow", on_event=slow, grace_ms=200)
    assert summary.outcome == "blocked"
    # The agent was ended by its 1 s timeout, not 4 s later when the callback returned; and every
    # event was delivered before run() returned.
    assert finished and finished[0].failure == "timeout"
    assert finished[0].duration_ms < 3000, finished[0]


def test_sigterm_to_a_python_host_ends_its_agents(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "302-term", {"WP01": []})
    script = textwrap.dedent(
        f"""
        import kitty_orchestrator as ko
        cfg = {config({"FAKE_MODE": "sigterm_tree"})!r}
        def on_event(e):
            if e.type == "agent_started":
                print("STARTED", flush=True)
        ko.Orchestrator({str(repo)!r}, cfg).run("302-term", on_event=on_event, grace_ms=300)
        print("NOT REACHED", flush=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "STARTED"
    log = repo / ".kittify/logs/302-term/WP01-implementation-1.log"
    for _ in range(200):
        if log.exists() and "tree started" in log.read_text():
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    # The host still dies of SIGTERM, as it would have...
    assert child.returncode == -signal.SIGTERM and "NOT REACHED" not in out
    # ...but only after stopping its agents and recording the abort.
    assert agents_of("302-term") == []
    status = ko.Orchestrator(repo, config()).status("302-term")
    assert status.run is not None and status.run.status == "aborted"
    assert status.wps["WP01"].owner is None


def test_numeric_options_are_range_checked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "303-range", {"WP01": []})
    orch = ko.Orchestrator(repo, config())
    cases: list[ko.RunOptions] = [{"max_concurrent": 0}, {"max_concurrent": 65}, {"grace_ms": -1}, {"retry_base_ms": 10**15}]
    for options in cases:
        with pytest.raises(ko.ConfigError) as err:
            orch.run("303-range", **options)
        assert err.value.code == "config_invalid", options
    typo: dict[str, Any] = {"max_concurent": 2}
    with pytest.raises(ko.ConfigError) as unknown:
        orch.run("303-range", **typo)
    assert "max_concurent" in str(unknown.value)
    assert orch.status("303-range").wps == {}, "nothing ran"


def claim_elsewhere(repo: Path, slug: str, wp: str) -> None:
    """Writes, with plain git, the event a run on another machine would have written when it
    claimed ``wp``: its state.json and trailers, on top of the chain."""
    ref = f"refs/kitty/wp/{slug}/{wp}"
    tip = git(repo, "rev-parse", ref).strip()
    state = json.loads(git(repo, "show", f"{ref}:state.json"))
    owner = {"run_id": "01ELSEWHERE0000000000000000", "pid": 7, "host": "old-laptop"}
    state.update(
        seq=state["seq"] + 1,
        event_id="01ELSEWHEREEVENT0000000000",
        last_event={"type": "claimed", "owner": owner},
        lane="doing",
        owner=owner,
        run_id=owner["run_id"],
    )
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=json.dumps(state), capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = subprocess.run(
        ["git", "mktree"], cwd=repo, input=f"100644 blob {blob}\tstate.json\n", capture_output=True, text=True, check=True
    ).stdout.strip()
    message = (
        f"{wp}: planned -> doing\n\nKitty-WP: {wp}\nKitty-Lane: doing\nKitty-Seq: {state['seq']}\n"
        f"Kitty-Event-Id: {state['event_id']}\n"
    )
    commit = git(repo, "commit-tree", tree, "-p", tip, "-m", message).strip()
    git(repo, "update-ref", ref, commit, tip)


def test_release_frees_a_wp_held_on_another_host(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "304-release", {"WP01": [], "WP02": []})
    orch = ko.Orchestrator(repo, config())
    with pytest.raises(ko.GitError) as missing:
        orch.release("304-release", "WP01")  # never run: no state yet
    assert missing.value.code == "state_missing"
    # Import the feature (a dry run does not), then the other machine claims WP01 and vanishes.
    cfg = config()
    cfg["agents"]["impl"]["env"] = {"FAKE_FAIL_WPS": "WP01,WP02"}
    cfg["max_retries"] = 0
    ko.Orchestrator(repo, cfg).run("304-release", grace_ms=200)
    for wp in ("WP01", "WP02"):
        orch.retry("304-release", wp)
    claim_elsewhere(repo, "304-release", "WP01")
    summary = orch.run("304-release", grace_ms=200)
    wp01 = next(w for w in summary.wps if w.id == "WP01")
    assert wp01.lane == ko.Lane.DOING and wp01.owner == "run 01ELSEWHERE0000000000000000 (pid 7 on old-laptop)"
    assert summary.corrupt == [] and wp01.withheld == [] and wp01.refused == []
    released = orch.release("304-release", "WP01")
    assert released.owner is None and released.lane is ko.Lane.DOING
    assert released.last_event["type"] == "force_released"
    assert orch.run("304-release", grace_ms=200).outcome == "completed"


def test_error_codes_and_exception_classes_agree_with_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "errors.md").read_text()
    table = readme.split("| code | meaning |")[1].splitlines()[2:]
    rows = {}
    for line in table:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.split("|")]
        rows[cells[1].strip("`")] = cells[4].strip("`")
    table_classes = {code: cls.__name__ for code, cls in ko.ERROR_CODES.items()}
    assert table_classes == rows
    for cls in set(ko.ERROR_CODES.values()):
        assert issubclass(cls, ko.KittyError)
