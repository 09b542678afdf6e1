"""Type stubs for the native extension module (kept by hand; checked by mypy.stubtest)."""

import os
from pathlib import Path
from typing import Any, ClassVar, Optional, final

from . import Lane
from ._types import FeatureStatus, HistoryEntry, WpState

__version__: str
__all__ = [
    "ERROR_CODES",
    "AgentError",
    "Config",
    "ConfigError",
    "Feature",
    "FeatureError",
    "IoError",
    "KittyError",
    "Orchestrator",
    "Problem",
    "StateConflictError",
    "WorktreeError",
    "MergeError",
    "RemoteError",
    "GitError",
    "WorkPackage",
    "__version__",
    "clone_workspace",
    "detect_agents",
    "list_workspaces",
    "load_feature",
    "register_types",
    "remove_workspace",
]

class KittyError(Exception):
    """Base class of every kitty-orchestrator error; ``code`` is a stable error code."""

    code: ClassVar[str]

class FeatureError(KittyError):
    """A feature directory is invalid; ``problems`` lists every problem found."""

    problems: list[Problem]

class ConfigError(KittyError):
    """The orchestrator configuration is invalid."""

class IoError(KittyError):
    """A file could not be read or written."""

class StateConflictError(KittyError):
    """Another orchestrator holds the WP or feature, or the transition is not allowed."""

class AgentError(KittyError):
    """No usable agent for a role, or an unknown agent id."""

class WorktreeError(KittyError):
    """A WP worktree could not be prepared, inspected or removed."""

class MergeError(KittyError):
    """Done WPs could not land on the target branch (nothing was changed)."""

class RemoteError(KittyError):
    """A remote refused a push (or moved under us), or could not be reached."""

class GitError(KittyError):
    """The git repository or the state in it could not be read or written."""

ERROR_CODES: dict[str, type[KittyError]]
"""Every stable error code, with the exception class raised for it."""

@final
class Problem:
    """One problem of an invalid feature."""

    @property
    def kind(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def line(self) -> Optional[int]: ...
    @property
    def column(self) -> Optional[int]: ...
    @property
    def message(self) -> str: ...

@final
class WorkPackage:
    """One work package of a feature."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def dependencies(self) -> list[str]: ...
    @property
    def subtasks(self) -> list[str]: ...
    @property
    def phase(self) -> Optional[str]: ...
    @property
    def prompt(self) -> str: ...
    @property
    def source(self) -> Path: ...
    @property
    def initial_lane(self) -> Lane: ...
    @property
    def extra(self) -> dict[str, Any]: ...

@final
class Feature:
    """A validated feature: its work packages sorted by id."""

    @property
    def slug(self) -> str: ...
    @property
    def dir(self) -> Path: ...
    @property
    def layout(self) -> str: ...
    @property
    def target_branch(self) -> Optional[str]: ...
    @property
    def meta(self) -> Optional[dict[str, Any]]: ...
    @property
    def work_packages(self) -> list[WorkPackage]: ...
    def topological_order(self) -> list[str]: ...
    def work_package(self, id: str) -> Optional[WorkPackage]: ...
    def __len__(self) -> int: ...

@final
class Config:
    """The configuration (`.kittify/orchestrator.toml` keys), validated."""

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Config: ...
    @staticmethod
    def from_dict(data: dict[str, Any]) -> Config: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Orchestrator:
    """The native orchestrator; use kitty_orchestrator.Orchestrator."""

    def __new__(
        cls,
        repo: str | os.PathLike[str],
        config: Any = None,
        format: Optional[str] = None,
        include_optional: Optional[bool] = None,
    ) -> Orchestrator: ...
    def run(self, feature: str, options: dict[str, Any], on_event: Optional[Any] = None) -> dict[str, Any]: ...
    def merge(self, feature: str, options: dict[str, Any], on_event: Optional[Any] = None) -> dict[str, Any]: ...
    def push(self, feature: str, options: dict[str, Any]) -> dict[str, Any]: ...
    def pull_request(self, feature: str, options: dict[str, Any]) -> dict[str, Any]: ...
    def report(self, feature: str) -> dict[str, Any]: ...
    def graph(self, feature: str) -> dict[str, Any]: ...
    def wait_refs(self, feature: str, last: Optional[str], timeout_s: float) -> str: ...
    def status(self, feature: str) -> FeatureStatus: ...
    def history(self, feature: str, wp: Optional[str] = None) -> list[HistoryEntry]: ...
    def abort(self, feature: str) -> bool: ...
    def status_remote(self, feature: str, remote: Optional[str] = None) -> dict[str, Any]: ...
    def abort_remote(self, feature: str, remote: Optional[str] = None) -> dict[str, Any]: ...
    def retry(self, feature: str, wp: str) -> WpState: ...
    def release(self, feature: str, wp: str) -> WpState: ...

def register_types(structs: dict[str, type[Any]], enums: dict[str, dict[str, Any]]) -> None:
    """Registers the typed classes the engine builds (by core struct and enum name)."""

def detect_agents(config: Any = None) -> list[dict[str, Any]]:
    """Every known agent, found on PATH or not."""

def clone_workspace(
    url: str, workspace_dir: Optional[str] = None, branch: Optional[str] = None
) -> dict[str, Any]:
    """Clones (or reuses) a workspace."""

def list_workspaces(workspace_dir: Optional[str] = None) -> list[dict[str, Any]]:
    """Every workspace with its features' progress."""

def remove_workspace(name: str, workspace_dir: Optional[str] = None, force: bool = False) -> dict[str, Any]:
    """Removes a workspace, backed up first."""

def load_feature(
    path: str | os.PathLike[str], format: Optional[str] = None, include_optional: bool = False
) -> Feature:
    """Loads and validates a feature (spec-kitty directory, Kiro spec, markdown task list);
    raises FeatureError listing every problem."""
