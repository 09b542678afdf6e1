"""kitty-orchestrator: run spec-kitty work packages through autonomous coding agents.

The engine is written in Rust; this package is a thin, typed layer over it. Errors derive from
:class:`KittyError`, whose ``code`` is the same stable string the CLI and the Node package use.
"""

from __future__ import annotations

import enum

from ._native import (
    ConfigError,
    Feature,
    FeatureError,
    GitError,
    IoError,
    KittyError,
    Problem,
    StateConflictError,
    WorkPackage,
    WorktreeError,
    __version__,
    load_feature,
)


class Lane(str, enum.Enum):
    """Where a work package is in its lifecycle (values are the names used in git state)."""

    PLANNED = "planned"
    DOING = "doing"
    FOR_REVIEW = "for_review"
    DONE = "done"
    BLOCKED = "blocked"
    CANCELED = "canceled"

    def __str__(self) -> str:
        return self.value


__all__ = [
    "ConfigError",
    "Feature",
    "FeatureError",
    "GitError",
    "IoError",
    "KittyError",
    "Lane",
    "Problem",
    "StateConflictError",
    "WorkPackage",
    "WorktreeError",
    "__version__",
    "load_feature",
]
