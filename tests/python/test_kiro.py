"""Kiro specs from Python: `load_feature` reads them, `Orchestrator.run` runs them by name and
ticks their boxes."""

from __future__ import annotations

import shutil
from pathlib import Path

import kitty_orchestrator as ko
from conftest import FIXTURES
from test_engine import config, git

SPEC = FIXTURES / "kiro" / "user-auth"


def test_a_kiro_spec_loads_with_ids_from_its_task_numbers() -> None:
    feature = ko.load_feature(SPEC)
    assert feature.layout == "kiro"
    ids = [wp.id for wp in feature.work_packages]
    assert ids[:3] == ["WP0100", "WP0201", "WP0202"] and "WP0203" not in ids  # 2.3 is optional
    lanes = {wp.id: wp.initial_lane for wp in feature.work_packages}
    assert lanes["WP0100"] == "done" and lanes["WP0201"] == "done" and lanes["WP0600"] == "planned"
    prompt = next(wp.prompt for wp in feature.work_packages if wp.id == "WP0202")
    assert "> 3. IF the password is shorter than 12 characters" in prompt


def test_a_kiro_spec_runs_by_name_and_its_boxes_are_ticked(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    shutil.copytree(SPEC, repo / ".kiro" / "specs" / "user-auth")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "spec")
    summary = ko.Orchestrator(repo, config()).run("user-auth")
    assert summary.outcome == "completed" and summary.done == 10
    text = (repo / ".kiro" / "specs" / "user-auth" / "tasks.md").read_text()
    assert "- [x] 6. Write the end-to-end tests" in text
    assert "- [ ]* 2.3 Write unit tests" in text and "- [x] 3. Implement sign-up" in text
