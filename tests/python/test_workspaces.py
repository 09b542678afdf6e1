"""Workspaces from Python: `clone_workspace` clones a bare repository by `file://` URL (the real
`git`), reuses it the second time, refuses another origin; `list_workspaces` shows progress;
`remove_workspace` refuses unsaved work and backs up first; a Kiro spec runs in the clone with its
optional task included on request."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import kitty_orchestrator as ko
from conftest import FIXTURES
from test_engine import config, git


def bare_with_kiro_spec(tmp: Path) -> str:
    src = tmp / "src"
    src.mkdir()
    git(src, "init", "-q", "-b", "main")
    git(src, "config", "user.email", "t@example.com")
    git(src, "config", "user.name", "t")
    shutil.copytree(FIXTURES / "kiro" / "user-auth", src / ".kiro" / "specs" / "user-auth")
    git(src, "add", "-A")
    git(src, "commit", "-qm", "spec")
    git(tmp, "clone", "-q", "--bare", str(src), str(tmp / "auth-service.git"))
    return f"file://{tmp / 'auth-service.git'}"


def test_a_clone_runs_a_kiro_spec_and_is_reused_listed_and_removed(tmp_path: Path) -> None:
    url = bare_with_kiro_spec(tmp_path)
    workspaces = tmp_path / "workspaces"
    cloned = ko.clone_workspace(url, workspaces)
    assert isinstance(cloned, ko.ClonedWorkspace)
    assert not cloned.reused and cloned.name == "auth-service" and cloned.branch == "main"
    orch = ko.Orchestrator(cloned.path, config(), include_optional=True)
    summary = orch.run("user-auth")
    assert summary.outcome == "completed" and summary.done == 11  # 2.3 (optional) included
    assert "- [x]* 2.3 Write unit tests" in (Path(cloned.path) / ".kiro/specs/user-auth/tasks.md").read_text()

    again = ko.clone_workspace(url, workspaces)
    assert again.reused and again.path == cloned.path

    [listed] = ko.list_workspaces(workspaces)
    assert listed.origin == url and listed.branch == "main"
    [feature] = listed.features
    assert (feature.feature, feature.source, feature.done) == ("user-auth", ".kiro/specs/user-auth", 11)

    with pytest.raises(ko.WorktreeError) as refused:
        ko.remove_workspace("auth-service", workspaces)
    assert refused.value.code == "worktree_dirty" and "on no remote" in str(refused.value)
    removed = ko.remove_workspace("auth-service", workspaces, force=True)
    assert removed.backup is not None and Path(removed.backup).is_file()
    assert not Path(cloned.path).exists() and ko.list_workspaces(workspaces) == []


def test_a_bad_url_leaves_nothing_and_another_origin_is_refused(tmp_path: Path) -> None:
    missing = f"file://{tmp_path}/missing.git"
    with pytest.raises(ko.RemoteError) as failed:
        ko.clone_workspace(missing, tmp_path / "ws")
    assert failed.value.code == "remote_failed" and missing in str(failed.value)
    assert not (tmp_path / "ws").exists()

    url = bare_with_kiro_spec(tmp_path)
    ko.clone_workspace(url, tmp_path / "ws")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "clone", "-q", "--bare", str(tmp_path / "src"), str(other / "auth-service.git"))
    with pytest.raises(ko.WorktreeError) as taken:
        ko.clone_workspace(f"file://{other / 'auth-service.git'}", tmp_path / "ws")
    assert taken.value.code == "worktree_path_taken" and "is a clone of" in str(taken.value)


def test_load_feature_takes_a_format_and_optional_tasks() -> None:
    spec = FIXTURES / "kiro" / "user-auth"
    with_optional = ko.load_feature(spec, include_optional=True)
    assert "WP0203" in [wp.id for wp in with_optional.work_packages]
    with pytest.raises(ko.FeatureError) as wrong:
        ko.load_feature(spec, format="task-list")
    assert "format `task-list` reads a markdown file" in str(wrong.value)
    with pytest.raises(ko.ConfigError) as unknown:
        ko.load_feature(spec, format="jira")
    assert "unknown feature format `jira`" in str(unknown.value)
