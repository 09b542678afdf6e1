"""Landing from Python: a run, then merge, on real repositories with the fake agents."""

from __future__ import annotations

import asyncio
import http.server
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import kitty_orchestrator as ko
from test_engine import DIAMOND, config, git, make_repo


def test_merge_lands_every_wp_in_order_and_a_second_merge_has_nothing_to_do(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "060-land", DIAMOND)
    orch = ko.Orchestrator(repo, config())
    assert orch.run("060-land").outcome == "completed"
    events: list[ko.Event] = []
    dry = orch.merge("060-land", dry_run=True)
    assert dry.outcome == "dry_run" and dry.merged == ["WP01", "WP02", "WP03", "WP04"]
    report = orch.merge("060-land", on_event=events.append)
    assert isinstance(report, ko.MergeReport)
    assert report.outcome == "merged"
    assert [s.wp for s in report.steps if s.action == "merge"] == ["WP01", "WP02", "WP03", "WP04"]
    assert report.commit == git(repo, "rev-parse", "main").strip()
    assert all(f"WP0{k}.txt" in git(repo, "ls-tree", "--name-only", "main") for k in range(1, 5))
    merged = [e for e in events if isinstance(e, ko.Merged)]
    assert len(merged) == 1 and merged[0].wps == report.merged
    status = orch.status("060-land")
    assert status.wps["WP04"].merged is not None and status.wps["WP04"].merged["into"] == "main"
    again = asyncio.run(orch.merge_async("060-land"))
    assert again.outcome == "nothing_to_merge"


def test_merge_errors_are_merge_errors_naming_what_is_wrong(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "061-clash", {"WP01": [], "WP02": []})
    orch = ko.Orchestrator(repo, config({"FAKE_EXTRA_FILES": "shared.txt"}))
    assert orch.run("061-clash").outcome == "completed"
    with pytest.raises(ko.MergeError) as caught:
        orch.merge("061-clash")
    assert caught.value.code == "merge_conflict"
    assert "WP02 with WP01 in shared.txt" in str(caught.value)
    with pytest.raises(ko.ConfigError) as bad:
        orch.merge("061-clash", strategy="rebase")
    assert "strategy" in str(bad.value)


def test_push_sends_what_landed_and_refuses_a_remote_that_moved(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "062-push", {"WP01": []})
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    orch = ko.Orchestrator(repo, config())
    assert orch.run("062-push").outcome == "completed"
    report = orch.merge("062-push", push=True)
    assert report.pushed is not None and report.push_error is None
    assert {r["reference"] for r in report.pushed.refs} >= {"refs/heads/main", "refs/kitty/wp/062-push/WP01"}
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    git(other, "-c", "user.name=O", "-c", "user.email=o@example.com", "commit", "-q", "--allow-empty", "-m", "theirs")
    git(other, "push", "-q", "origin", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "ours")
    with pytest.raises(ko.RemoteError) as caught:
        orch.push("062-push")
    assert caught.value.code == "push_rejected" and "refs/heads/main" in str(caught.value)


class _GitHub(http.server.BaseHTTPRequestHandler):
    """A stand-in for GitHub's pull-request endpoints on loopback."""

    pulls: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, value: Any) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer py-token-123456":
            return self._answer(401, {"message": "Bad credentials"})
        self._answer(200, [p for p in self.pulls if f"head=octo%3A{p['head'].replace('/', '%2F')}" in self.path])

    def do_POST(self) -> None:
        body = self._body()
        pr = {"number": len(self.pulls) + 1, "html_url": f"http://x/pull/{len(self.pulls) + 1}", **body}
        self.pulls.append(pr)
        self._answer(201, pr)

    def do_PATCH(self) -> None:
        pr = self.pulls[int(self.path.rsplit("/", 1)[1]) - 1]
        pr.update(self._body())
        self._answer(200, pr)


def test_pull_request_opens_then_updates_with_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path, "063-pr", {"WP01": []})
    remote = tmp_path / "octo" / "hello.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    orch = ko.Orchestrator(repo, config())
    assert orch.run("063-pr").outcome == "completed"
    assert orch.merge("063-pr", into="feature/063").outcome == "merged"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gitdir = tmp_path / "bin"
    gitdir.mkdir()
    (gitdir / "git").symlink_to(shutil.which("git") or "git")
    monkeypatch.setenv("PATH", str(gitdir))
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("GITHUB_TOKEN", "py-token-123456")
    monkeypatch.delenv("GH_TOKEN", raising=False)
    try:
        first = orch.pull_request("063-pr")
        second = orch.pull_request("063-pr")
    finally:
        server.shutdown()
    assert isinstance(first, ko.PullRequestReport)
    assert (first.number, first.created, second.created, first.repository) == (1, True, False, "octo/hello")
    assert len(_GitHub.pulls) == 1 and "# 063-pr: complete" in _GitHub.pulls[0]["body"]
    assert orch.report("063-pr").outcome == "complete"
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(ko.RemoteError) as caught:
        orch.pull_request("063-pr")
    assert caught.value.code == "pr_auth_missing" and "GH_TOKEN" in str(caught.value)
