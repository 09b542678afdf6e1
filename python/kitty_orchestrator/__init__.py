"""kitty-orchestrator: run spec-kitty work packages through autonomous coding agents.

The engine is written in Rust; this package is a thin, typed layer over it. Errors derive from
:class:`KittyError`, whose ``code`` is the same stable string the CLI and the Node package use.

Events given to ``on_event`` are dicts with a ``"type"`` key (``run_started``, ``lane_changed``,
``agent_started``, ``agent_output``, ``agent_finished``, ``retry_scheduled``, ``wp_blocked``,
``run_finished``), the same JSON shape as in Rust and Node. ``on_event`` is called, in order,
from a thread of its own fed by a queue: a slow callback never delays the engine (timeouts,
aborts), and every event has been delivered when ``run`` returns. An exception it raises is
reported through ``sys.unraisablehook`` and the run goes on (one bad callback must not leave
agents half-run).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from . import _native
from ._native import (
    ERROR_CODES,
    AgentError,
    Config,
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


@dataclass(frozen=True)
class WpSummary:
    """One work package in a run summary."""

    id: str
    title: str
    lane: Lane
    agents: list[str]
    attempts: int
    review_cycles: int
    agent_ms: int
    cost_usd: float
    reason: Optional[str]
    head: Optional[str]
    logs: list[str]
    owner: Optional[str]
    withheld: list[str]


@dataclass(frozen=True)
class RunSummary:
    """What a run did: ``outcome`` is ``"completed"``, ``"blocked"`` or ``"aborted"``."""

    feature: str
    run_id: str
    outcome: str
    wps: list[WpSummary]
    done: int
    blocked: int
    remaining: int
    cost_usd: float
    duration_ms: int
    verify: Optional[dict[str, Any]]
    corrupt: list[dict[str, Any]]

    @staticmethod
    def _from_json(text: str) -> "RunSummary":
        data = json.loads(text)
        wps = [WpSummary(**{**wp, "lane": Lane(wp["lane"])}) for wp in data.pop("wps")]
        return RunSummary(wps=wps, **data)


EventCallback = Callable[[dict[str, Any]], Any]


class _Signalled(BaseException):
    """A termination signal arrived during a run (raised by our handler, caught by ``run``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _graceful_termination() -> Iterator[None]:
    """While a run blocks the main thread: SIGTERM and SIGHUP, when the host has no handler of
    its own, first abort the run cleanly (agents stopped, the abort recorded), then end the
    process the way the signal would have. Without this, the default action kills the process
    at once and the agents' process groups are left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, None):

            def handler(received: int, _frame: Any) -> None:
                raise _Signalled(received)

            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    except _Signalled as stop:
        for number, old in previous.items():
            signal.signal(number, old)
        previous.clear()
        os.kill(os.getpid(), stop.signum)
        raise
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
ConfigLike = Union[str, "os.PathLike[str]", dict[str, Any], Config, None]


class Orchestrator:
    """Runs features of the git repository at ``repo``.

    ``config`` is a path to a TOML file, a dict with the same keys, a :class:`Config`, or None
    for ``<repo>/.kittify/orchestrator.toml`` (defaults when absent).
    """

    def __init__(self, repo: Union[str, "os.PathLike[str]"], config: ConfigLike = None) -> None:
        self._native = _native.Orchestrator(os.fspath(repo), config)

    def run(
        self,
        feature: str,
        *,
        on_event: Optional[EventCallback] = None,
        impl_agents: Optional[Sequence[str]] = None,
        review_agents: Optional[Sequence[str]] = None,
        max_concurrent: Optional[int] = None,
        output_lines: bool = False,
        grace_ms: Optional[int] = None,
        retry_base_ms: Optional[int] = None,
    ) -> RunSummary:
        """Runs (or resumes) ``feature`` until nothing more can start. Blocks with the GIL
        released; Ctrl-C aborts the run cleanly, then raises KeyboardInterrupt. On the main
        thread, SIGTERM/SIGHUP (when the program has no handler for them) abort the run cleanly
        too, then end the process as the signal would."""
        options = {
            "impl_agents": list(impl_agents) if impl_agents else None,
            "review_agents": list(review_agents) if review_agents else None,
            "max_concurrent": max_concurrent,
            "output_lines": output_lines,
            "grace_ms": grace_ms,
            "retry_base_ms": retry_base_ms,
        }
        with _graceful_termination():
            text = self._native.run(feature, json.dumps(options), on_event)
        return RunSummary._from_json(text)

    async def run_async(
        self,
        feature: str,
        *,
        on_event: Optional[EventCallback] = None,
        impl_agents: Optional[Sequence[str]] = None,
        review_agents: Optional[Sequence[str]] = None,
        max_concurrent: Optional[int] = None,
        output_lines: bool = False,
        grace_ms: Optional[int] = None,
        retry_base_ms: Optional[int] = None,
    ) -> RunSummary:
        """:meth:`run` as an awaitable. Cancelling it aborts the run (agents stopped, WPs left
        resumable) and waits for that before the CancelledError propagates."""
        loop = asyncio.get_running_loop()
        call = functools.partial(
            self.run,
            feature,
            on_event=on_event,
            impl_agents=impl_agents,
            review_agents=review_agents,
            max_concurrent=max_concurrent,
            output_lines=output_lines,
            grace_ms=grace_ms,
            retry_base_ms=retry_base_ms,
        )
        running = loop.run_in_executor(None, call)
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            self.abort(feature)
            try:
                await running
            except KittyError:
                pass
            raise

    def status(self, feature: str) -> dict[str, Any]:
        """``{"run": run state or None, "wps": {id: state}, "corrupt": [{reference, why}]}``
        from the refs (a ref that cannot be read is listed, the others still shown)."""
        result: dict[str, Any] = json.loads(self._native.status(feature))
        return result

    def history(self, feature: str, wp: Optional[str] = None) -> list[dict[str, Any]]:
        """Every event of one WP (or all), oldest first: dicts with ``commit``, ``subject``,
        ``event`` and ``state``."""
        result: list[dict[str, Any]] = json.loads(self._native.history(feature, wp))
        return result

    def abort(self, feature: str) -> bool:
        """Aborts the feature's run (in this process or another); whether one was running."""
        return self._native.abort(feature)

    def retry(self, feature: str, wp: str) -> dict[str, Any]:
        """Moves a blocked WP back to planned; returns its new state."""
        result: dict[str, Any] = json.loads(self._native.retry(feature, wp))
        return result

    def release(self, feature: str, wp: str) -> dict[str, Any]:
        """Releases a WP held by a run that cannot release it (another host, a crashed
        container): it keeps its lane and branch, unowned, and the next run claims it. Refused
        while its owner is alive on this machine. Returns its new state."""
        result: dict[str, Any] = json.loads(self._native.release(feature, wp))
        return result


def detect_agents(config: ConfigLike = None) -> list[dict[str, Any]]:
    """Every built-in and configured agent, found on PATH or not, with its version."""
    result: list[dict[str, Any]] = json.loads(_native.detect_agents(config))
    return result


__all__ = [
    "ERROR_CODES",
    "AgentError",
    "Config",
    "ConfigError",
    "Feature",
    "FeatureError",
    "GitError",
    "IoError",
    "KittyError",
    "Lane",
    "Orchestrator",
    "Problem",
    "RunSummary",
    "StateConflictError",
    "WorkPackage",
    "WorktreeError",
    "WpSummary",
    "__version__",
    "detect_agents",
    "load_feature",
]
