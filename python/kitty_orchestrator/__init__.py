"""kitty-orchestrator: run spec-kitty work packages through autonomous coding agents.

The engine is written in Rust; this package is a thin, typed layer over it. Errors derive from
:class:`KittyError`, whose ``code`` is the same stable string the CLI and the Node package use.

Events given to ``on_event`` are dicts with a ``"type"`` key (``run_started``, ``lane_changed``,
``agent_started``, ``agent_output``, ``agent_activity`` (typed tool calls, plans, permission
answers and usage of agents driven over ACP), ``agent_finished``, ``retry_scheduled``, ``wp_blocked``,
``run_finished``), the same JSON shape as in Rust and Node. With :meth:`Orchestrator.run`,
``on_event`` is called, in order, from a thread of its own fed by a queue: a slow callback never
delays the engine (timeouts, aborts), and every event has been delivered when ``run`` returns.
With the async methods (:meth:`Orchestrator.run_async`, :meth:`Orchestrator.merge_async`) it is
called on the caller's event loop, as each event happens — so ``queue.put_nowait`` into an
``asyncio.Queue`` just works — and :meth:`Orchestrator.events` gives the events as an async
iterator (``async for event in orch.events(feature)``). An exception the callback raises is
reported (``sys.unraisablehook``, or the loop's exception handler) and the run goes on (one bad
callback must not leave agents half-run).

``asyncio`` is imported only by the async methods: a program that only reads ``status`` does
not pay for it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, Literal, Optional, TypedDict, Union

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
    MergeError,
    Problem,
    RemoteError,
    StateConflictError,
    WorkPackage,
    WorktreeError,
    __version__,
    load_feature,
)

if TYPE_CHECKING:
    import asyncio

    from typing_extensions import Unpack

    from ._types import (
        Activity,
        DriverProof,
        AgentActivity,
        PermissionActivity,
        PlanActivity,
        PlanStep,
        ToolCallActivity,
        UsageActivity,
        ClonedWorkspace,
        RemovedWorkspace,
        Workspace,
        WorkspaceFeature,
        AgentFinished,
        AgentOutput,
        AgentStarted,
        CorruptState,
        Event,
        FeatureStatus,
        HistoryEntry,
        Lane,
        LaneChanged,
        Merged,
        MergeReport,
        MergeResolved,
        MergeStep,
        MergeVerified,
        Owner,
        PullRequest,
        PullRequestReport,
        PushReport,
        RemoteAbort,
        RemoteHost,
        RemoteStatus,
        FeatureReport,
        FeatureGraph,
        GraphEdge,
        GraphNode,
        LaneCount,
        RetryScheduled,
        RunFinished,
        RunStarted,
        RunState,
        RunSummary,
        WpBlocked,
        WpState,
        WpSummary,
        build,
        event_from_dict,
        AgentSandbox,
        DetectedAgent,
        WpEvent,
        Imported,
        Claimed,
        Reclaimed,
        Released,
        ForceReleased,
        WorktreeReady,
        WpAgentStarted,
        WpAgentFinished,
        WpRetryScheduled,
        Submitted,
        Approved,
        Rejected,
        Blocked,
        Canceled,
        Retried,
        Reopened,
        WpMerged,
    )

# The typed objects (``_types``: some forty dataclasses) are defined on first use, not at import:
# a program that imports us to read a status pays for them then, one that only checks a version
# never. Each name is looked up here the first time (PEP 562); ``_types`` registers them with the
# engine, which builds them natively.
_TYPE_NAMES = frozenset(
    {
        "AgentSandbox",
        "DetectedAgent",
        "WpEvent",
        "Imported",
        "Claimed",
        "Reclaimed",
        "Released",
        "ForceReleased",
        "WorktreeReady",
        "WpAgentStarted",
        "WpAgentFinished",
        "WpRetryScheduled",
        "Submitted",
        "Approved",
        "Rejected",
        "Blocked",
        "Canceled",
        "Retried",
        "Reopened",
        "WpMerged",
        "ClonedWorkspace",
        "RemovedWorkspace",
        "Workspace",
        "WorkspaceFeature",
        "AgentFinished",
        "AgentOutput",
        "Activity",
        "DriverProof",
        "AgentActivity",
        "PermissionActivity",
        "PlanActivity",
        "PlanStep",
        "ToolCallActivity",
        "UsageActivity",
        "AgentStarted",
        "CorruptState",
        "Event",
        "FeatureStatus",
        "HistoryEntry",
        "Lane",
        "LaneChanged",
        "Merged",
        "MergeReport",
        "MergeResolved",
        "MergeStep",
        "MergeVerified",
        "Owner",
        "PullRequest",
        "PullRequestReport",
        "PushReport",
        "RemoteAbort",
        "RemoteHost",
        "RemoteStatus",
        "FeatureReport",
        "FeatureGraph",
        "GraphNode",
        "GraphEdge",
        "LaneCount",
        "RetryScheduled",
        "RunFinished",
        "RunStarted",
        "RunState",
        "RunSummary",
        "WpBlocked",
        "WpState",
        "WpSummary",
        "build",
        "event_from_dict",
    }
)


def __getattr__(name: str) -> Any:
    if name in _TYPE_NAMES:
        from . import _types

        value = getattr(_types, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kitty_orchestrator' has no attribute {name!r}")


EventCallback = Callable[["Event"], Any]


class RunOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`Orchestrator.run` and :meth:`Orchestrator.run_async` —
    defined once, for both. Each is range-checked like the configuration file; an unknown one
    is a :class:`ConfigError` naming it."""

    on_event: Optional[EventCallback]
    impl_agents: Optional[list[str]]
    review_agents: Optional[list[str]]
    max_concurrent: Optional[int]
    output_lines: bool
    grace_ms: Optional[int]
    retry_base_ms: Optional[int]
    remote: Optional[str]


class MergeOptions(TypedDict, total=False):
    """The keyword arguments of :meth:`Orchestrator.merge` and :meth:`Orchestrator.merge_async`."""

    on_event: Optional[EventCallback]
    into: Optional[str]
    strategy: Optional[str]
    partial: bool
    dry_run: bool
    resolve: bool
    push: bool
    pr: bool
    reopen_moved: bool
    origin_check: Optional[Literal["enforce", "warn", "off"]]


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


def _on_loop(options: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Makes ``options["on_event"]`` run on ``loop`` (from the engine's delivery thread, each
    event is handed over with ``call_soon_threadsafe``, which wakes the loop at once)."""
    callback = options.get("on_event")
    if callback is None:
        return

    def deliver(event: Any) -> None:
        try:
            loop.call_soon_threadsafe(callback, event)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    options["on_event"] = deliver


class RunEvents:
    """A run's events as an async iterator, and its summary (see :meth:`Orchestrator.events`)."""

    def __init__(self, orchestrator: Orchestrator, feature: str, options: Any) -> None:
        import asyncio

        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        given = options.pop("on_event", None)

        def on_event(event: Event) -> None:
            if given is not None:
                given(event)
            self._queue.put_nowait(event)

        async def run() -> RunSummary:
            try:
                return await orchestrator.run_async(feature, **options, on_event=on_event)
            finally:
                self._queue.put_nowait(_END)

        self.summary: asyncio.Task[RunSummary] = asyncio.get_running_loop().create_task(run())
        """The run's summary, once it ends (an awaitable task)."""

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is _END:
                return
            yield event


_END = object()

ConfigLike = Union[str, "os.PathLike[str]", dict[str, Any], Config, None]
FeatureFormat = Union[Literal["spec-kitty"], Literal["kiro"], Literal["task-list"]]
"""The readers a feature can be read with (``format=``)."""


class Orchestrator:
    """Runs features of the git repository at ``repo``.

    ``config`` is a path to a TOML file, a dict with the same keys, a :class:`Config`, or None
    for ``<repo>/.kittify/orchestrator.toml`` (defaults when absent). ``format``
    (``"spec-kitty"``, ``"kiro"``, ``"task-list"``) reads features with that reader instead of
    by their path's shape; ``include_optional`` loads Kiro's optional tasks too (default: the
    configuration's ``include_optional``).
    """

    def __init__(
        self,
        repo: Union[str, "os.PathLike[str]"],
        config: ConfigLike = None,
        *,
        format: Optional[FeatureFormat] = None,
        include_optional: Optional[bool] = None,
    ) -> None:
        self._native = _native.Orchestrator(os.fspath(repo), config, format, include_optional)

    def run(self, feature: str, **options: Unpack[RunOptions]) -> RunSummary:
        """Runs (or resumes) ``feature`` until nothing more can start. Blocks with the GIL
        released; Ctrl-C aborts the run cleanly, then raises KeyboardInterrupt. On the main
        thread, SIGTERM/SIGHUP (when the program has no handler for them) abort the run cleanly
        too, then end the process as the signal would. ``on_event`` receives typed events
        (:class:`RunStarted`, :class:`LaneChanged`, …) in order, from a thread of its own."""
        spec: dict[str, Any] = dict(options)
        on_event = spec.pop("on_event", None)
        if spec.get("output_lines") is False:
            del spec["output_lines"]
        spec = {k: list(v) if k.endswith("_agents") and v is not None else v for k, v in spec.items()}
        from ._types import RunSummary, build, event_from_dict

        deliver = None if on_event is None else (lambda data: on_event(event_from_dict(data)))
        with _graceful_termination():
            data = self._native.run(feature, spec, deliver)
        return build(RunSummary, data)

    async def run_async(self, feature: str, **options: Unpack[RunOptions]) -> RunSummary:
        """:meth:`run` as an awaitable (the same keyword arguments); ``on_event`` is called on
        this event loop as each event happens. Cancelling it aborts the run (agents stopped, WPs
        left resumable) and waits for that before the CancelledError propagates."""
        import asyncio

        loop = asyncio.get_running_loop()
        _on_loop(options, loop)
        running = loop.run_in_executor(None, functools.partial(self.run, feature, **options))
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            self.abort(feature)
            try:
                await running
            except KittyError:
                pass
            raise

    def events(self, feature: str, **options: Unpack[RunOptions]) -> RunEvents:
        """Runs ``feature`` (as :meth:`run_async`) and gives its events as an async iterator,
        each as it happens; the iteration ends when the run does, and ``summary`` is the run's
        summary (awaitable; it raises what the run raised)::

            run = orch.events("020-my-feature")
            async for event in run:
                print(event.type)
            summary = await run.summary

        Must be called with an event loop running. Cancelling ``summary`` aborts the run."""
        return RunEvents(self, feature, options)

    async def status_async(self, feature: str) -> FeatureStatus:
        """:meth:`status` as an awaitable (read on a worker thread)."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.status, feature)

    async def history_async(self, feature: str, wp: Optional[str] = None) -> list[HistoryEntry]:
        """:meth:`history` as an awaitable (read on a worker thread)."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.history, feature, wp)

    def merge(self, feature: str, **options: Unpack[MergeOptions]) -> MergeReport:
        """Lands the done WPs of ``feature`` on its target branch (or ``into``) in dependency
        order — ``strategy`` ``"merge"`` or ``"squash"``; ``partial`` lands the done,
        dependency-closed WPs; ``dry_run`` changes nothing; ``resolve`` gives conflicts to an
        agent. What lands is what review approved: a done WP whose branch moved after its
        approval is refused (``merge_not_ready``), or sent back to review with
        ``reopen_moved``. Nothing changes unless everything merges (and verifies): conflicts
        raise :class:`MergeError` naming the WPs and paths. Blocks with the GIL released."""
        spec: dict[str, Any] = dict(options)
        on_event = spec.pop("on_event", None)
        from ._types import MergeReport, build, event_from_dict

        deliver = None if on_event is None else (lambda data: on_event(event_from_dict(data)))
        with _graceful_termination():
            data = self._native.merge(feature, spec, deliver)
        return build(MergeReport, data)

    async def merge_async(self, feature: str, **options: Unpack[MergeOptions]) -> MergeReport:
        """:meth:`merge` as an awaitable (the same keyword arguments); ``on_event`` is called on
        this event loop as each event happens."""
        import asyncio

        loop = asyncio.get_running_loop()
        _on_loop(options, loop)
        return await loop.run_in_executor(None, functools.partial(self.merge, feature, **options))

    def push(
        self, feature: str, *, remote: Optional[str] = None, branch: Optional[str] = None, branches: bool = False
    ) -> PushReport:
        """Pushes what landed (the landed branch or ``branch``, the WP branches with
        ``branches``, the feature's ``refs/kitty/*``) to ``remote`` (default: ``push_remote``)
        through ``git``, each ref with its expected old value: a remote that moved raises
        :class:`RemoteError` and nothing is pushed."""
        spec: dict[str, Any] = {"remote": remote, "branch": branch, "branches": branches}
        from ._types import PushReport, build

        return build(PushReport, self._native.push(feature, {k: v for k, v in spec.items() if v is not None}))

    def pull_request(
        self, feature: str, *, remote: Optional[str] = None, head: Optional[str] = None, base: Optional[str] = None
    ) -> PullRequestReport:
        """Pushes the landed branch (or ``head``) and opens — or updates, never duplicates — its
        pull request into the target branch (or ``base``), with the report as body: through
        ``gh`` when logged in, else GitHub's API with ``GITHUB_TOKEN``/``GH_TOKEN``
        (``GITHUB_API_URL`` for GitHub Enterprise)."""
        spec = {k: v for k, v in {"remote": remote, "head": head, "base": base}.items() if v is not None}
        from ._types import PullRequestReport, build

        return build(PullRequestReport, self._native.pull_request(feature, spec))

    def report(self, feature: str) -> FeatureReport:
        """The feature's report, read back from git."""
        from ._types import FeatureReport, build

        return build(FeatureReport, self._native.report(feature))

    def graph(self, feature: str) -> FeatureGraph:
        """The feature as a graph to draw: WPs with their lanes and layers, dependencies, counts
        per lane, and the fingerprint of the refs read. Blocks with the GIL released."""
        from ._types import FeatureGraph, build

        return build(FeatureGraph, self._native.graph(feature))

    async def watch(self, feature: str, timeout: float = 5.0) -> AsyncIterator[FeatureGraph]:
        """The feature's graph now, then again each time its refs move (a run here, in another
        process, or another machine's after a fetch): ``async for graph in orch.watch(slug)``.
        The kernel says when refs move (no polling while nothing does); the wait happens on a
        worker thread, ``timeout`` seconds at a time, so cancelling the task ends it promptly."""
        import asyncio

        loop = asyncio.get_running_loop()
        last: Optional[str] = None
        while True:
            now = await loop.run_in_executor(None, self._native.wait_refs, feature, last, timeout)
            if now == last:
                continue
            graph = await loop.run_in_executor(None, self.graph, feature)
            last = graph.fingerprint
            yield graph

    def status(self, feature: str) -> FeatureStatus:
        """The feature's state in git: ``run``, ``wps`` (by id) and ``corrupt`` (refs that could
        not be read, each with why; the others are still shown)."""
        from . import _types  # noqa: F401  (the engine builds its typed objects)

        return self._native.status(feature)

    def history(self, feature: str, wp: Optional[str] = None) -> list[HistoryEntry]:
        """Every event of one WP (or all), oldest first; each entry's ``event`` is a typed
        :class:`WpEvent` (:class:`Claimed`, :class:`Submitted`, :class:`Approved`, …)."""
        from . import _types

        entries: list[HistoryEntry] = self._native.history(feature, wp)
        for entry in entries:
            if isinstance(entry.event, dict):
                object.__setattr__(entry, "event", _types.wp_event_from_dict(entry.event))
        return entries

    def abort(self, feature: str) -> bool:
        """Aborts the feature's run (in this process or another); whether one was running. With
        none alive, a crashed run's leftover agents are ended."""
        return self._native.abort(feature)

    def status_remote(self, feature: str, remote: Optional[str] = None) -> RemoteStatus:
        """The board of a shared feature as ``remote`` (default: ``sync_remote``) has it, with
        each machine's heartbeat (``hosts``) and the last abort requested there. Fetches
        through ``git`` (your credentials)."""
        from ._types import RemoteStatus, build

        return build(RemoteStatus, self._native.status_remote(feature, remote))

    def abort_remote(self, feature: str, remote: Optional[str] = None) -> RemoteAbort:
        """Records on ``remote`` (default: ``sync_remote``) an abort of every machine's run of
        ``feature``; each stops its agents at its next look at the remote. A run here is
        aborted at once too."""
        from ._types import RemoteAbort, build

        return build(RemoteAbort, self._native.abort_remote(feature, remote))

    def retry(self, feature: str, wp: str) -> WpState:
        """Moves a blocked WP back to planned; returns its new state."""
        from . import _types  # noqa: F401  (the engine builds its typed objects)

        return self._native.retry(feature, wp)

    def release(self, feature: str, wp: str) -> WpState:
        """Releases a WP held by a run that cannot release it (another host, a crashed
        container): it keeps its lane and branch, unowned, and the next run claims it. Refused
        while its owner is alive on this machine. Returns its new state."""
        from . import _types  # noqa: F401  (the engine builds its typed objects)

        return self._native.release(feature, wp)


def detect_agents(config: ConfigLike = None) -> list[DetectedAgent]:
    """Every built-in and configured agent, found on PATH or not, with its version and its
    ``sandbox`` (:class:`AgentSandbox`): ``mode``, whether it is ``confined`` here (``why_not``
    if not), and the paths each role may write (``implementation_writable``,
    ``review_writable``; of the first, the git directories in ``git_files_only`` take regular
    files and directories only; ``private_copies``: what every attempt gets privately)."""
    from ._types import DetectedAgent

    return [DetectedAgent._from(agent) for agent in _native.detect_agents(config)]


def clone_workspace(
    url: str,
    workspace_dir: Union[str, "os.PathLike[str]", None] = None,
    branch: Optional[str] = None,
) -> ClonedWorkspace:
    """Clones ``url`` through ``git`` (your credentials) into ``<workspace_dir>/<repo name>``
    and checks out ``branch`` (default: the clone's ``target_branch``, else the remote's default
    branch); a clone of the same URL already there is fetched and reused, one of another URL is
    refused. A clone that fails leaves nothing behind. ``workspace_dir`` defaults to
    ``KITTY_WORKSPACE_DIR``, else the current directory. Run features in it with
    ``Orchestrator(cloned.path)``."""
    directory = None if workspace_dir is None else os.fspath(workspace_dir)
    from ._types import ClonedWorkspace, build

    return build(ClonedWorkspace, _native.clone_workspace(url, directory, branch))


def list_workspaces(workspace_dir: Union[str, "os.PathLike[str]", None] = None) -> list[Workspace]:
    """Every workspace in ``workspace_dir``: origin, branch, features and their progress."""
    directory = None if workspace_dir is None else os.fspath(workspace_dir)
    from ._types import Workspace, build

    return [build(Workspace, w) for w in _native.list_workspaces(directory)]


def remove_workspace(
    name: str, workspace_dir: Union[str, "os.PathLike[str]", None] = None, force: bool = False
) -> RemovedWorkspace:
    """Removes workspace ``name``: refused (``WorktreeError``, code ``worktree_dirty``) while it
    has uncommitted files or branches on no remote unless ``force``; a bundle of every ref is
    written to ``<workspace_dir>/.kitty-backups/`` first either way."""
    directory = None if workspace_dir is None else os.fspath(workspace_dir)
    from ._types import RemovedWorkspace, build

    return build(RemovedWorkspace, _native.remove_workspace(name, directory, force))


__all__ = [
    "AgentSandbox",
    "DetectedAgent",
    "WpEvent",
    "Imported",
    "Claimed",
    "Reclaimed",
    "Released",
    "ForceReleased",
    "WorktreeReady",
    "WpAgentStarted",
    "WpAgentFinished",
    "WpRetryScheduled",
    "Submitted",
    "Approved",
    "Rejected",
    "Blocked",
    "Canceled",
    "Retried",
    "Reopened",
    "WpMerged",
    "RunEvents",
    "ClonedWorkspace",
    "RemovedWorkspace",
    "Workspace",
    "WorkspaceFeature",
    "clone_workspace",
    "list_workspaces",
    "remove_workspace",
    "ERROR_CODES",
    "AgentError",
    "AgentFinished",
    "AgentOutput",
    "Activity",
    "DriverProof",
    "AgentActivity",
    "PermissionActivity",
    "PlanActivity",
    "PlanStep",
    "ToolCallActivity",
    "UsageActivity",
    "AgentStarted",
    "Config",
    "ConfigError",
    "CorruptState",
    "Event",
    "EventCallback",
    "Feature",
    "FeatureError",
    "FeatureStatus",
    "GitError",
    "HistoryEntry",
    "IoError",
    "KittyError",
    "Lane",
    "LaneChanged",
    "Orchestrator",
    "Owner",
    "Problem",
    "RetryScheduled",
    "RunFinished",
    "Merged",
    "MergeOptions",
    "MergeReport",
    "MergeResolved",
    "MergeStep",
    "MergeVerified",
    "PushReport",
    "RemoteAbort",
    "RemoteHost",
    "RemoteStatus",
    "PullRequestReport",
    "FeatureReport",
    "FeatureGraph",
    "GraphNode",
    "GraphEdge",
    "LaneCount",
    "RunOptions",
    "RunStarted",
    "RunState",
    "RunSummary",
    "StateConflictError",
    "WorkPackage",
    "WorktreeError",
    "MergeError",
    "RemoteError",
    "WpBlocked",
    "WpState",
    "WpSummary",
    "__version__",
    "detect_agents",
    "load_feature",
    "FeatureFormat",
]
