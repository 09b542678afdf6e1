"""The engine from Python: real repositories, the fake agents as real processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import kitty_orchestrator as ko
from conftest import FIXTURES
from kitty_orchestrator._types import build

FAKE = str(FIXTURES / "agents" / "fake-agent")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(tmp: Path, slug: str, wps: dict[str, list[str]]) -> Path:
    repo = tmp / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "t@example.com")
    tasks = repo / "kitty-specs" / slug / "tasks"
    tasks.mkdir(parents=True)
    for wp, deps in wps.items():
        (tasks / f"{wp}-work.md").write_text(
            f"---\nwork_package_id: {wp}\ntitle: Work {wp}\ndependencies: [{', '.join(deps)}]\n---\nCreate {wp}.txt\n"
        )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")
    return repo


def config(impl_env: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "max_concurrent_wps": 4,
        "max_retries": 1,
        "agents": {
            "implementation": ["impl"],
            "review": ["rev"],
            "impl": {"command": [FAKE], "output": "stream-json", "env": impl_env or {}},
            "rev": {"command": [FAKE], "output": "stream-json"},
        },
    }


def agents_of(feature: str) -> list[int]:
    """Live processes whose environment names this feature."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            env = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"KITTY_FEATURE={feature}".encode() in env:
            found.append(int(entry))
    return found


DIAMOND = {"WP01": [], "WP02": ["WP01"], "WP03": ["WP01"], "WP04": ["WP02", "WP03"]}


def test_sync_run_events_agree_with_history_and_status(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "050-py", DIAMOND)
    orch = ko.Orchestrator(repo, config())
    events: list[ko.Event] = []
    summary = orch.run("050-py", on_event=events.append, grace_ms=300, retry_base_ms=20)
    assert isinstance(summary, ko.RunSummary)
    assert summary.outcome == "completed" and summary.done == 4
    assert all(wp.lane is ko.Lane.DONE for wp in summary.wps)
    # Finished WPs handed their worktrees on (recycle_worktrees): the summary says where each is.
    for entry in summary.wps:
        assert (entry.worktree is None) == (entry.worktree_recycled_to is not None), entry
    assert summary.wps[0].worktree_recycled_to in ("WP02", "WP03")
    last = summary.wps[3].worktree
    assert last is not None and Path(last, "WP04.txt").is_file()
    assert isinstance(events[0], ko.RunStarted) and isinstance(events[-1], ko.RunFinished)
    assert events[0].type == "run_started" and events[-1].to_dict()["type"] == "run_finished"
    assert isinstance(events[-1], ko.RunFinished) and events[-1].summary.outcome == "completed"
    status = orch.status("050-py")
    assert isinstance(status, ko.FeatureStatus) and status.run is not None
    assert status.run.status == "finished"
    assert {wp: s.lane for wp, s in status.wps.items()} == {wp.id: wp.lane for wp in summary.wps}
    assert status.wps["WP01"].to_dict()["lane"] == "done"
    for wp in DIAMOND:
        seen = [e.to_lane for e in events if isinstance(e, ko.LaneChanged) and e.wp == wp]
        history = orch.history("050-py", wp)
        lanes = [h.state.lane for h in history]
        changes = [b for a, b in zip(lanes, lanes[1:]) if a != b]
        assert seen == changes == [ko.Lane.DOING, ko.Lane.FOR_REVIEW, ko.Lane.DONE], (wp, seen, changes)
        assert isinstance(history[0].event, ko.Imported) and history[0].event.type == "imported"
        assert any(isinstance(h.event, ko.Approved) and h.event.reviewer == "rev" for h in history)


def _plain(value: Any, at: str = "data") -> None:
    """``value`` is JSON-shaped data of exactly the built-in types (no enum member, no object)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, at
            _plain(item, f"{at}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _plain(item, f"{at}[{i}]")
    else:
        assert value is None or type(value) in (str, int, float, bool), (at, type(value))


def test_typed_objects_built_by_the_engine_equal_the_python_builders(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "056-typed", {"WP01": [], "WP02": ["WP01"], "WP10": []})
    orch = ko.Orchestrator(repo, config())
    assert orch.run("056-typed", grace_ms=300, retry_base_ms=20).outcome == "completed"
    # A ref that is no WP chain: listed in `corrupt`, the others still read.
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-ref", "refs/kitty/wp/056-typed/WP03", head)
    status = orch.status("056-typed")
    # Built natively (bindings-python/src/typed.rs), equal to what the Python builders make of
    # the same data, field by field (nested states, owners, lanes, defaults and all).
    assert type(status) is ko.FeatureStatus
    assert status == build(ko.FeatureStatus, status.to_dict())
    assert list(status.wps) == ["WP01", "WP02", "WP10"], "in WP id order"
    for wp, state in status.wps.items():
        assert type(state) is ko.WpState and type(state.lane) is ko.Lane and state.lane is ko.Lane.DONE
        assert state.wp == wp and state.withheld == [] and state.refused == [] and state.merged is None
        assert state == build(ko.WpState, state.to_dict())
    assert status.wps["WP01"].withheld is not status.wps["WP02"].withheld, "a default list per object"
    assert [type(c) for c in status.corrupt] == [ko.CorruptState]
    assert status.corrupt[0].reference == "refs/kitty/wp/056-typed/WP03" and status.corrupt[0].why
    assert type(status.run) is ko.RunState and status.run.status == "finished"
    _plain(status.to_dict())
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.wps["WP01"].lane = ko.Lane.PLANNED  # type: ignore[misc]
    history = orch.history("056-typed")
    assert history and all(type(h) is ko.HistoryEntry and type(h.state) is ko.WpState for h in history)
    assert history == [build(ko.HistoryEntry, h.to_dict()) for h in history]
    for entry in history:
        # Events are typed (a WpEvent per type) over data: a lane inside one stays the string it
        # is in git.
        assert isinstance(entry.event, ko.WpEvent)
        _plain(entry.event.to_dict(), "event")
        _plain(entry.to_dict())


def test_asyncio_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "051-async", {"WP01": [], "WP02": []})
    orch = ko.Orchestrator(repo, ko.Config.from_dict(config()))
    summary = asyncio.run(orch.run_async("051-async", grace_ms=300))
    assert summary.outcome == "completed"
    assert [wp.id for wp in summary.wps] == ["WP01", "WP02"]


def test_asyncio_cancellation_aborts_then_run_resumes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "052-cancel", {"WP01": [], "WP02": []})
    orch = ko.Orchestrator(repo, config({"FAKE_MODE": "sigterm_tree"}))
    started: list[ko.Event] = []

    async def scenario() -> None:
        task = asyncio.ensure_future(
            orch.run_async("052-cancel", on_event=lambda e: started.append(e) if e.type == "agent_started" else None, grace_ms=300)
        )
        for _ in range(200):
            if len(started) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(started) == 2
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert agents_of("052-cancel") == []
    run = orch.status("052-cancel").run
    assert run is not None and run.status == "aborted"
    summary = ko.Orchestrator(repo, config()).run("052-cancel", grace_ms=300)
    assert summary.outcome == "completed"


def test_ctrl_c_aborts_cleanly_then_raises_keyboard_interrupt(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "053-sigint", {"WP01": []})
    script = textwrap.dedent(
        f"""
        import signal, sys, kitty_orchestrator as ko
        # As in a terminal: a test run started in the background (a non-interactive shell's
        # `cmd &`) hands its children SIGINT ignored, and Python then installs no handler.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        cfg = {config({"FAKE_MODE": "sigterm_tree"})!r}
        def on_event(e):
            if e.type == "agent_started":
                print("STARTED", flush=True)
        try:
            ko.Orchestrator({str(repo)!r}, cfg).run("053-sigint", on_event=on_event, grace_ms=300)
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
            sys.exit(130)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "STARTED"
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 130 and "INTERRUPTED" in out
    assert agents_of("053-sigint") == []
    status = ko.Orchestrator(repo, config()).status("053-sigint")
    assert status.run is not None and status.run.status == "aborted"
    assert status.wps["WP01"].owner is None


def test_a_failing_callback_does_not_stop_the_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "054-callback", {"WP01": []})
    seen: list[Any] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_value)
    try:

        def bad(event: ko.Event) -> None:
            raise ValueError("callback bug")

        summary = ko.Orchestrator(repo, config()).run("054-callback", on_event=bad, grace_ms=300)
    finally:
        sys.unraisablehook = old_hook
    assert summary.outcome == "completed"
    assert seen and isinstance(seen[0], ValueError)


def test_each_error_kind_has_its_class_and_code(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "055-errors", {"WP01": []})
    with pytest.raises(ko.ConfigError) as config_err:
        ko.Orchestrator(repo, {"max_retires": 3})
    assert config_err.value.code == "config_invalid" and "max_retires" in str(config_err.value)
    orch = ko.Orchestrator(repo, config())
    with pytest.raises(ko.FeatureError) as missing:
        orch.run("055-nope")
    assert missing.value.code == "feature_not_found"
    with pytest.raises(ko.AgentError) as no_agents:
        ko.Orchestrator(repo, {"agents": {"implementation": ["cursor"], "review": ["cursor"]}}).run("055-errors")
    assert no_agents.value.code == "no_agents"
    orch.run("055-errors", grace_ms=300)
    with pytest.raises(ko.StateConflictError) as illegal:
        orch.retry("055-errors", "WP01")  # done, not blocked
    assert illegal.value.code == "illegal_transition"
    with pytest.raises(ko.AgentError) as unknown:
        orch.run("055-errors", impl_agents=["nope"])
    assert unknown.value.code == "unknown_agent"
    blob = git(repo, "hash-object", "-w", str(repo / "kitty-specs" / "055-errors" / "tasks" / "WP01-work.md")).strip()
    head = git(repo, "rev-parse", "refs/kitty/wp/055-errors/WP01").strip()
    git(repo, "update-ref", "refs/kitty/wp/055-errors/WP01", blob)
    # One corrupt ref does not hide the board: it is named, with why.
    board = orch.status("055-errors")
    assert board.wps == {}
    assert board.corrupt[0].reference == "refs/kitty/wp/055-errors/WP01"
    assert "not an event commit" in board.corrupt[0].why
    git(repo, "update-ref", "refs/kitty/wp/055-errors/WP01", head)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with pytest.raises(ko.GitError) as not_a_repo:
        ko.Orchestrator(outside, config())
    assert not_a_repo.value.code == "not_a_repository"
    with pytest.raises(ko.FeatureError) as typo:
        orch.status("055-erors")
    assert typo.value.code == "feature_not_found"
    with pytest.raises(ko.FeatureError) as bad_id:
        orch.retry("055-errors", "WP1")
    assert bad_id.value.code == "wp_id_invalid"
    (repo / "kitty-specs" / "055-errors" / "tasks" / "WP01-work.md").write_text("---\nwork_package_id: WP02\n---\n")
    with pytest.raises(ko.FeatureError) as invalid:
        orch.run("055-errors")
    assert invalid.value.code == "feature_invalid" and invalid.value.problems


def test_detect_agents_lists_builtins_and_custom(tmp_path: Path) -> None:
    agents = {a.id: a for a in ko.detect_agents(config())}
    assert all(type(a) is ko.DetectedAgent and type(a.sandbox) is ko.AgentSandbox for a in agents.values())
    assert {"claude-code", "codex", "gemini", "impl", "rev"} <= set(agents)
    assert agents["impl"].path == FAKE and agents["impl"].builtin is False
    # How each agent is confined here, and what each role may write.
    codex = agents["codex"].sandbox
    assert codex.mode == "best_effort" and isinstance(codex.confined, bool)
    assert "<worktree>" in codex.implementation_writable
    assert "<worktree>" not in codex.review_writable
    # Nothing under the home directory: codex gets a private copy of ~/.codex per attempt.
    home = str(Path.home())
    assert not any(p.startswith(home) for p in codex.review_writable + codex.implementation_writable)
    assert any(c.startswith("CODEX_HOME=<attempt-tmp>/") for c in codex.private_copies)
    assert "<git-common-dir>/kitty/quarantine/<worktree-name>" in codex.git_files_only
    assert agents["codex"].to_dict()["sandbox"]["mode"] == "best_effort"


def test_a_second_run_of_the_same_feature_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "056-locked", {"WP01": []})
    orch = ko.Orchestrator(repo, config({"FAKE_MODE": "sigterm_tree"}))
    started: list[Any] = []

    async def scenario() -> None:
        task = asyncio.ensure_future(orch.run_async("056-locked", on_event=started.append, grace_ms=300))
        for _ in range(200):
            if any(e.type == "agent_started" for e in started):
                break
            await asyncio.sleep(0.05)
        with pytest.raises(ko.StateConflictError) as locked:
            ko.Orchestrator(repo, config()).run("056-locked")
        assert locked.value.code == "run_locked"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert agents_of("056-locked") == []


def test_asyncio_programs_get_each_event_as_it_happens(tmp_path: Path) -> None:
    """The obvious asyncio code — ``on_event=queue.put_nowait`` into an ``asyncio.Queue`` — and
    ``async for event in orch.events(...)`` both see each event while the run is in progress:
    an agent's start arrives within 50 ms of the agent starting, not when the run ends."""
    repo = make_repo(tmp_path, "057-asyncio", {"WP01": []})
    orch = ko.Orchestrator(repo, config({"FAKE_SLEEP_MS": "1500"}))
    log = repo / ".kittify" / "logs" / "057-asyncio" / "WP01-implementation-1.log"

    def started_at() -> float:
        # The agent log's header says when the agent was started (UTC, RFC 3339).
        from datetime import datetime

        line = next(l for l in log.read_text().splitlines() if l.startswith("# started: "))
        return datetime.fromisoformat(line.removeprefix("# started: ").replace("Z", "+00:00")).timestamp()

    async def with_a_queue() -> float:
        queue: asyncio.Queue[ko.Event] = asyncio.Queue()
        run = asyncio.ensure_future(orch.run_async("057-asyncio", on_event=queue.put_nowait, grace_ms=300))
        while True:
            event = await asyncio.wait_for(queue.get(), 30)
            if event.type == "agent_started":
                received = time.time()
                assert not run.done(), "the event came only when the run was over"
                break
        summary = await run
        assert summary.outcome == "completed"
        return received - started_at()

    # The agent works 1.5 s: an event that arrives within a second of its start came while it
    # ran, not with the run's end (a loaded machine delays delivery by some milliseconds).
    late = asyncio.run(with_a_queue())
    assert late < 1.0, f"agent_started arrived {late * 1000:.0f} ms after the agent started"

    git(repo, "update-ref", "-d", "refs/kitty/wp/057-asyncio/WP01")
    git(repo, "update-ref", "-d", "refs/kitty/run/057-asyncio")
    git(repo, "worktree", "remove", "--force", str(repo / ".worktrees" / "057-asyncio-WP01"))
    git(repo, "branch", "-D", "057-asyncio-WP01")

    async def with_async_for() -> tuple[float, list[str]]:
        run = orch.events("057-asyncio", grace_ms=300)
        types: list[str] = []
        late = -1.0
        async for event in run:
            types.append(event.type)
            if event.type == "agent_started" and late < 0:
                late = time.time() - started_at()
                assert not run.summary.done()
        summary = await run.summary
        assert summary.outcome == "completed"
        return late, types

    late, types = asyncio.run(with_async_for())
    assert late < 1.0, f"agent_started arrived {late * 1000:.0f} ms after the agent started"
    assert types[0] == "run_started" and types[-1] == "run_finished", types


def test_status_and_history_are_awaitable(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "058-await", {"WP01": []})
    orch = ko.Orchestrator(repo, config())
    orch.run("058-await", grace_ms=300)

    async def read() -> tuple[ko.FeatureStatus, list[ko.HistoryEntry]]:
        return await orch.status_async("058-await"), await orch.history_async("058-await", "WP01")

    status, history = asyncio.run(read())
    assert status.wps["WP01"].lane == "done"
    assert history[-1].state.lane == "done"


def test_import_is_cheap_until_used() -> None:
    """A program that imports us only to read a version or a status does not pay for asyncio (and
    ssl) or the typed dataclasses at import: they load when first used (timed in scripts/bench)."""
    code = (
        "import sys, kitty_orchestrator as ko\n"
        "assert 'asyncio' not in sys.modules, 'asyncio imported eagerly'\n"
        "assert 'kitty_orchestrator._types' not in sys.modules, 'the dataclasses built eagerly'\n"
        "assert ko.Lane.DONE.value == 'done' and 'kitty_orchestrator._types' in sys.modules\n"
        "assert ko.RunSummary.__name__ == 'RunSummary'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_python_guides_example_type_checks(tmp_path: Path) -> None:
    """The Python guide's example (docs/python.md) is a test: checked with ``mypy --strict`` as a user's editor
    would check it."""
    readme = (Path(__file__).parents[2] / "docs" / "python.md").read_text()
    section = readme.split("\n## Python\n")[1].split("\n## ")[0]
    blocks = [b.split("```")[0] for b in section.split("```python\n")[1:]]
    assert blocks, "the Python section has a python block"
    for i, code in enumerate(blocks):
        example = tmp_path / f"example_{i}.py"
        example.write_text(code)
        checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(example)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_graph_draws_the_feature_and_watch_yields_it_again_as_a_run_moves(tmp_path: Path) -> None:

    repo = make_repo(tmp_path, "075-py-graph", {"WP01": [], "WP02": ["WP01"], "WP03": ["WP01", "WP02"]})
    # Agents that take a moment, so that each WP's time in progress is seen however busy the
    # machine is.
    orch = ko.Orchestrator(repo, config({"FAKE_SLEEP_MS": "300"}))
    before = orch.graph("075-py-graph")
    assert isinstance(before, ko.FeatureGraph)
    assert [(n.id, n.lane, n.class_, n.layer) for n in before.nodes] == [
        ("WP01", "planned", "planned", 0),
        ("WP02", "planned", "planned", 1),
        ("WP03", "planned", "planned", 2),
    ]
    assert [(e.from_, e.to) for e in before.edges] == [("WP01", "WP02"), ("WP01", "WP03"), ("WP02", "WP03")]
    assert [c.count for c in before.lanes if c.lane == "planned"] == [3]
    assert len(before.fingerprint) == 40

    async def follow() -> list[ko.FeatureGraph]:
        seen: list[ko.FeatureGraph] = []

        async def watching() -> None:
            async for graph in orch.watch("075-py-graph", timeout=1.0):
                seen.append(graph)
                if all(n.lane == "done" for n in graph.nodes):
                    return

        watcher = asyncio.create_task(watching())
        summary = await orch.run_async("075-py-graph")
        assert summary.outcome == "completed"
        await asyncio.wait_for(watcher, 30)
        return seen

    seen = asyncio.run(follow())
    # The watch starts beside the run: its first graph is of the feature as the run found it, or
    # a moment later.
    assert len(seen) >= 3, len(seen)
    assert seen[0].nodes[2].lane == "planned"
    assert any(n.class_ == "doing" for g in seen for n in g.nodes), "a WP seen in progress"
    assert len({g.fingerprint for g in seen}) == len(seen), "each graph yielded once per change"
    with pytest.raises(ko.KittyError) as missing:
        orch.graph("076-missing")
    assert missing.value.code == "feature_not_found"


def test_an_acp_agent_reports_typed_activity(tmp_path: Path) -> None:
    """An agent driven over ACP: its tool calls, plan, our permission answers and its usage come
    as typed ``AgentActivity`` events, and its cost reaches the summary."""
    repo = make_repo(tmp_path, "058-acp", {"WP01": []})
    acp = str(FIXTURES / "agents" / "acp-agent")
    state = tmp_path / "acp-state"
    state.mkdir()
    agent = {"command": [acp], "driver": "acp", "writable": [str(state)], "env": {"ACP_STATE_DIR": str(state)}}
    cfg = {"agents": {"implementation": ["acp-impl"], "review": ["acp-rev"], "acp-impl": agent, "acp-rev": agent}}
    events: list[ko.Event] = []
    summary = ko.Orchestrator(repo, cfg).run("058-acp", on_event=events.append, grace_ms=300)
    assert summary.outcome == "completed", summary
    activities = [e.activity for e in events if isinstance(e, ko.AgentActivity)]
    writes = [a for a in activities if isinstance(a, ko.ToolCallActivity) and a.title == "Write wp01.txt"]
    assert [w.status for w in writes] == ["pending", "completed"] and writes[-1].paths == ["wp01.txt"]
    plans = [a for a in activities if isinstance(a, ko.PlanActivity)]
    assert plans and isinstance(plans[0].steps[0], ko.PlanStep) and plans[0].steps[0].content == "write wp01.txt"
    allowed = [a for a in activities if isinstance(a, ko.PermissionActivity)]
    assert allowed and all(a.allowed and a.tool == "edit" for a in allowed)
    usage = [a for a in activities if isinstance(a, ko.UsageActivity)]
    assert usage and usage[-1].cost_usd == 0.0042 and usage[-1].describe().endswith("$0.0042")
    assert summary.wps[0].cost_usd == pytest.approx(0.0042)


def test_detected_agents_say_each_drivers_proof() -> None:
    agents = {a.id: a for a in ko.detect_agents({"agents": {"gemini": {"driver": "acp"}}})}
    gemini = agents["gemini"]
    assert gemini.driver == "acp" and agents["codex"].driver == "cli"
    assert [p.driver for p in gemini.proven] == ["cli", "acp"]
    assert all(isinstance(p, ko.DriverProof) and p.version and p.not_proven is None for p in gemini.proven)
    assert [p.driver for p in agents["aider"].proven] == ["cli"]
