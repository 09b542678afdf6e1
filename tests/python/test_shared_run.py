"""Several machines on one feature from Python: two clones of one bare remote run it together
(``remote="origin"``), the remote's board and heartbeats read back, an abort recorded there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import kitty_orchestrator as ko
from test_engine import DIAMOND, config, git, make_repo


def clones(tmp: Path, slug: str, hosts: list[str]) -> list[Path]:
    seed = make_repo(tmp, slug, DIAMOND)
    bare = tmp / "remote.git"
    git(tmp, "clone", "-q", "--bare", str(seed), str(bare))
    out = []
    for host in hosts:
        git(tmp, "clone", "-q", str(bare), str(tmp / host))
        git(tmp / host, "config", "user.name", host)
        git(tmp / host, "config", "user.email", f"{host}@example.com")
        out.append(tmp / host)
    return out


def machine(host: str, **extra: Any) -> dict[str, Any]:
    cfg = config(extra.pop("impl_env", None))
    cfg.update(host_id=host, lease_seconds=5, lease_renew_seconds=1, sync_interval_seconds=1, **extra)
    return cfg


def test_two_clones_share_a_feature_through_a_remote(tmp_path: Path) -> None:
    laptop, ci_box = clones(tmp_path, "060-shared", ["laptop", "ci-box"])
    a = ko.Orchestrator(laptop, machine("laptop"))
    b = ko.Orchestrator(ci_box, machine("ci-box", sync_remote="origin"))

    async def both() -> list[ko.RunSummary]:
        return list(await asyncio.gather(a.run_async("060-shared", remote="origin"), b.run_async("060-shared")))

    for summary in asyncio.run(both()):
        assert summary.outcome == "completed" and summary.done == 4, summary
    status = a.status_remote("060-shared", "origin")
    assert isinstance(status, ko.RemoteStatus)
    assert status.remote == "origin" and sorted(status.wps) == ["WP01", "WP02", "WP03", "WP04"]
    assert all(state.lane == ko.Lane.DONE for state in status.wps.values())
    assert {h.host for h in status.hosts} == {"laptop", "ci-box"}
    laptop_beat = status.host("laptop")
    assert laptop_beat is not None and laptop_beat.age_seconds < 60
    history = a.history("060-shared")
    claimed = {e.state.owner.host for e in history if e.event.type == "claimed" and e.state.owner}
    assert claimed <= {"laptop", "ci-box"}

    request = b.abort_remote("060-shared")
    assert isinstance(request, ko.RemoteAbort) and request.remote == "origin" and not request.local_run
    assert "requested on ci-box" in (b.status_remote("060-shared").abort_requested or "")


def test_a_bad_remote_option_names_the_key(tmp_path: Path) -> None:
    (laptop,) = clones(tmp_path, "061-shared", ["laptop"])
    orch = ko.Orchestrator(laptop, machine("laptop"))
    try:
        orch.run("061-shared", remote="--upload-pack=evil")
    except ko.ConfigError as err:
        assert "is not a remote name or URL" in str(err), err
    else:
        raise AssertionError("a remote starting with '-' was accepted")
    try:
        orch.status_remote("061-shared")
    except ko.ConfigError as err:
        assert "sync_remote" in str(err), err
    else:
        raise AssertionError("status_remote with no remote")
