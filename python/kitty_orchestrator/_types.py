"""Typed, frozen views of what the engine returns: the run summary, a feature's status, WP and
run states, history entries and run events. Each is built from the engine's JSON-shaped data
(the same snake_case shape as the CLI's ``--json``) and gives that data back with ``to_dict()``.
Keys this version does not know are kept in ``to_dict()`` and ignored by the attributes, so
newer state written by a newer build still reads."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, TypeVar

T = TypeVar("T")


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


_FIELDS: dict[type[Any], frozenset[str]] = {}


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that are fields of ``cls`` (not ``data`` itself)."""
    names = _FIELDS.get(cls)
    if names is None:
        # Looked up once per class: a board of 1000 WPs builds 1000 of each.
        names = frozenset(f.name for f in dataclasses.fields(cls) if f.init and f.name != "data")
        _FIELDS[cls] = names
    if names.issuperset(data):
        # Nothing unknown (the usual case): a copy made in C, not a filtered comprehension.
        return dict(data)
    return {k: v for k, v in data.items() if k in names}


_SHAPES: dict[type[Any], tuple[frozenset[str], dict[str, Any], tuple[tuple[str, Any], ...]]] = {}


def _make(cls: type[T], fields: dict[str, Any]) -> T:
    """``cls(**fields)`` for a frozen dataclass without running its generated ``__init__``, which
    sets every field through ``object.__setattr__`` and made a board of 1000 WPs cost 20 ms in
    Python alone. Defaults and factories apply as in ``__init__``; a missing required field
    falls back to ``__init__`` so the error is the usual ``TypeError``."""
    shape = _SHAPES.get(cls)
    if shape is None:
        needed: set[str] = set()
        defaults: dict[str, Any] = {}
        makers: list[tuple[str, Any]] = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                makers.append((f.name, f.default_factory))
            else:
                needed.add(f.name)
        shape = (frozenset(needed), defaults, tuple(makers))
        _SHAPES[cls] = shape
    required, plain, factories = shape
    if not required <= fields.keys():
        return cls(**fields)
    obj = object.__new__(cls)
    attrs = obj.__dict__
    attrs.update(plain)
    for name, make in factories:
        attrs[name] = make()
    attrs.update(fields)
    return obj


#: Lanes by value: a dict lookup, where ``Lane(value)`` goes through the enum machinery.
_LANES: dict[str, Lane] = {lane.value: lane for lane in Lane}


@dataclass(frozen=True)
class _Typed:
    data: dict[str, Any] = field(repr=False, compare=False, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """The engine's data, as the CLI's ``--json`` would print it."""
        return dict(self.data)


@dataclass(frozen=True)
class Owner(_Typed):
    """The run that holds a WP."""

    run_id: str
    pid: int
    host: str

    @staticmethod
    def _from(data: Optional[dict[str, Any]]) -> Optional["Owner"]:
        return None if data is None else _make(Owner, {**_known(Owner, data), "data": data})

    def __str__(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host})"


@dataclass(frozen=True)
class WpState(_Typed):
    """The state of one WP, as stored in ``state.json`` at its ref's tip."""

    format: int
    """The ``state.json`` format version that wrote it."""
    feature: str
    wp: str
    lane: Lane
    seq: int
    event_id: str
    last_event: dict[str, Any]
    run_id: Optional[str]
    owner: Optional[Owner]
    agent: Optional[str]
    role: Optional[str]
    attempt: int
    attempts_total: int
    review_cycle: int
    agents_used: list[str]
    pid: Optional[int]
    log: Optional[str]
    failure: Optional[str]
    reason: Optional[str]
    feedback: Optional[str]
    worktree: Optional[str]
    branch: Optional[str]
    base: Optional[str]
    head: Optional[str]
    cost_usd: float
    agent_ms: int
    created_at: str
    updated_at: str
    withheld: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Writes the sandbox refused, as the agents' own output reported them."""
    session: Optional[str] = None
    """The latest implementation attempt's own session id: a rework by the same agent continues it."""
    session_agent: Optional[str] = None
    """The agent whose session ``session`` is."""
    merged: Optional[dict[str, Any]] = None
    """Where the work landed most recently (``into``, ``commit``, ``strategy``, ``head``)."""
    landings: list[dict[str, Any]] = field(default_factory=list)
    """Every branch the work landed on, the latest landing on each (same keys as ``merged``)."""

    @staticmethod
    def _from(data: dict[str, Any]) -> "WpState":
        known = _known(WpState, data)
        known["lane"] = _LANES.get(data["lane"]) or Lane(data["lane"])
        owner = data.get("owner")
        known["owner"] = None if owner is None else Owner._from(owner)
        known["data"] = data
        return _make(WpState, known)


@dataclass(frozen=True)
class RunState(_Typed):
    """The state of a feature's run chain."""

    format: int
    """The ``state.json`` format version that wrote it."""
    feature: str
    seq: int
    event_id: str
    """The id of the latest event."""
    status: str
    owner: Optional[Owner]
    runs: int
    last_event: dict[str, Any]
    summary: Optional[dict[str, Any]]
    started_at: str
    updated_at: str
    merged: Optional[dict[str, Any]] = None
    """The latest landing (``into``, ``commit``, ``strategy``), once the feature was merged."""
    pull_request: Optional[dict[str, Any]] = None
    """The feature's pull request (``number``, ``url``, ``head``, ``base``), once ``pr`` opened one."""

    @staticmethod
    def _from(data: Optional[dict[str, Any]]) -> Optional["RunState"]:
        if data is None:
            return None
        known = _known(RunState, data)
        known["owner"] = Owner._from(data.get("owner"))
        return RunState(**known, data=data)


@dataclass(frozen=True)
class CorruptState(_Typed):
    """A ref whose state could not be read, and why."""

    reference: str
    why: str

    @staticmethod
    def _from(data: dict[str, Any]) -> "CorruptState":
        return CorruptState(**_known(CorruptState, data), data=data)


@dataclass(frozen=True)
class FeatureStatus(_Typed):
    """A feature's state in git: the run, every readable WP, and the refs that could not be read."""

    feature: str
    run: Optional[RunState]
    wps: dict[str, WpState]
    corrupt: list[CorruptState]
    #: A shared run here that cannot reach its remote: ``{"remote": …, "since": …}``.
    offline: Optional[dict[str, str]] = None

    @staticmethod
    def _from(data: dict[str, Any]) -> "FeatureStatus":
        return FeatureStatus(
            feature=data["feature"],
            run=RunState._from(data.get("run")),
            wps={wp: WpState._from(state) for wp, state in data["wps"].items()},
            corrupt=[CorruptState._from(c) for c in data.get("corrupt", [])],
            offline=data.get("offline"),
            data=data,
        )


@dataclass(frozen=True)
class HistoryEntry(_Typed):
    """One event of a WP's history: its commit, the event, and the state after it."""

    commit: str
    subject: str
    event: WpEvent
    state: WpState

    @staticmethod
    def _from(data: dict[str, Any]) -> "HistoryEntry":
        return HistoryEntry(
            commit=data["commit"],
            subject=data["subject"],
            event=wp_event_from_dict(data["event"]),
            state=WpState._from(data["state"]),
            data=data,
        )


@dataclass(frozen=True)
class WpEvent(_Typed):
    """An event of a WP's chain (``HistoryEntry.event``); ``type`` tells which — the
    ``Kitty-Event`` trailer's value, the same in Rust, the CLI's ``--json`` and Node. Owners are
    plain dicts here (``run_id``, ``pid``, ``host``)."""

    type: ClassVar[str] = "wp_event"


@dataclass(frozen=True)
class Imported(WpEvent):
    """The feature was imported: the chain begins at the lane its files gave."""

    type: ClassVar[str] = "imported"
    lane: str


@dataclass(frozen=True)
class Claimed(WpEvent):
    """A run claimed the WP."""

    type: ClassVar[str] = "claimed"
    owner: dict[str, Any]


@dataclass(frozen=True)
class Reclaimed(WpEvent):
    """A run took the WP over from a dead one."""

    type: ClassVar[str] = "reclaimed"
    owner: dict[str, Any]
    previous: dict[str, Any]


@dataclass(frozen=True)
class Released(WpEvent):
    """Its run let the WP go (abort, end)."""

    type: ClassVar[str] = "released"
    reason: str


@dataclass(frozen=True)
class ForceReleased(WpEvent):
    """A person released the WP from a run that could not."""

    type: ClassVar[str] = "force_released"
    previous: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class WorktreeReady(WpEvent):
    """Its worktree was made (or reused)."""

    type: ClassVar[str] = "worktree_ready"
    path: str
    branch: str
    base: str


@dataclass(frozen=True)
class WpAgentStarted(WpEvent):
    """An agent attempt began (``type`` ``agent_started``)."""

    type: ClassVar[str] = "agent_started"
    agent: str
    role: str
    attempt: int
    pid: Optional[int] = None
    log: Optional[str] = None


@dataclass(frozen=True)
class WpAgentFinished(WpEvent):
    """An agent attempt ended (``type`` ``agent_finished``); ``failure`` None on success."""

    type: ClassVar[str] = "agent_finished"
    agent: str
    role: str
    attempt: int
    duration_ms: int
    failure: Optional[str] = None
    cost_usd: Optional[float] = None
    head: Optional[str] = None
    withheld: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    session: Optional[str] = None
    """The agent's own session id, what a rework by the same agent continues."""


@dataclass(frozen=True)
class WpRetryScheduled(WpEvent):
    """A failed attempt will be retried (``type`` ``retry_scheduled``)."""

    type: ClassVar[str] = "retry_scheduled"
    agent: str
    attempt: int
    delay_ms: int
    failure: str


@dataclass(frozen=True)
class Submitted(WpEvent):
    """Implementation finished: up for review."""

    type: ClassVar[str] = "submitted"
    head: str


@dataclass(frozen=True)
class Approved(WpEvent):
    """The review approved: done."""

    type: ClassVar[str] = "approved"
    reviewer: str


@dataclass(frozen=True)
class Rejected(WpEvent):
    """The review rejected: back to doing, with feedback."""

    type: ClassVar[str] = "rejected"
    reviewer: str
    feedback: str


@dataclass(frozen=True)
class Blocked(WpEvent):
    """Needs a person."""

    type: ClassVar[str] = "blocked"
    reason: str


@dataclass(frozen=True)
class Canceled(WpEvent):
    """Will not be done."""

    type: ClassVar[str] = "canceled"
    reason: str


@dataclass(frozen=True)
class Retried(WpEvent):
    """A person asked to try again: planned."""

    type: ClassVar[str] = "retried"


@dataclass(frozen=True)
class Reopened(WpEvent):
    """A done WP whose branch moved after approval went back to review."""

    type: ClassVar[str] = "reopened"
    head: str
    reason: str


@dataclass(frozen=True)
class WpMerged(WpEvent):
    """The done WP landed on a branch (``type`` ``merged``)."""

    type: ClassVar[str] = "merged"
    into: str
    commit: str
    strategy: str
    head: str


_WP_EVENTS: dict[str, type[WpEvent]] = {
    cls.type: cls
    for cls in (
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
}


def wp_event_from_dict(data: dict[str, Any]) -> WpEvent:
    """The typed event of a WP's chain (a :class:`WpEvent` of an unknown type keeps its data)."""
    cls = _WP_EVENTS.get(data.get("type", ""), WpEvent)
    return _make(cls, {**_known(cls, data), "data": data})


@dataclass(frozen=True)
class AgentSandbox(_Typed):
    """How an agent is confined on this machine, and what each role may write (``<worktree>``,
    ``<git-common-dir>``, ``<worktree-name>``, ``<attempt-tmp>`` stand for what an attempt
    fills in)."""

    mode: str
    confined: bool
    why_not: Optional[str]
    implementation_writable: list[str]
    review_writable: list[str]
    git_files_only: list[str] = field(default_factory=list)
    """Of ``implementation_writable``, the git directories: regular files and directories only."""
    private_copies: list[str] = field(default_factory=list)
    """The agent's own directories and caches as every attempt gets them: private copies."""


@dataclass(frozen=True)
class DriverProof(_Typed):
    """One driver of a built-in agent (``"cli"`` or ``"acp"``) and how far it is proven here."""

    driver: str
    version: Optional[str]
    """``--version`` of the newest release that ran a feature end to end with this driver."""
    not_proven: Optional[str]
    """Why it is not proven here, when it is not."""


@dataclass(frozen=True)
class DetectedAgent(_Typed):
    """A built-in or configured agent, found on PATH or not (:func:`detect_agents`)."""

    id: str
    builtin: bool
    program: str
    path: Optional[str]
    version: Optional[str]
    enabled: bool
    checked_version: Optional[str]
    available: bool
    why_not: Optional[str]
    sandbox: AgentSandbox
    driver: str = "cli"
    """How it is driven, as configured: ``"cli"`` (its headless CLI) or ``"acp"`` (the Agent
    Client Protocol)."""
    proven: list[DriverProof] = field(default_factory=list)
    """For a built-in profile, each driver it has and the newest release proven end to end with
    it (or why it is not proven here)."""

    @staticmethod
    def _from(data: dict[str, Any]) -> "DetectedAgent":
        known = _known(DetectedAgent, data)
        known["sandbox"] = _make(AgentSandbox, {**_known(AgentSandbox, data["sandbox"]), "data": data["sandbox"]})
        known["proven"] = [DriverProof(**_known(DriverProof, p), data=p) for p in data.get("proven", [])]
        return _make(DetectedAgent, {**known, "data": data})


@dataclass(frozen=True)
class WpSummary(_Typed):
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
    refused: list[str] = field(default_factory=list)
    """Writes the sandbox refused, as the agents' own output reported them."""
    worktree: Optional[str] = None
    """Its worktree directory, while it has one."""
    worktree_recycled_to: Optional[str] = None
    """The WP its worktree went to when the run recycled it (``recycle_worktrees``)."""

    @staticmethod
    def _from(data: dict[str, Any]) -> "WpSummary":
        known = _known(WpSummary, data)
        known["lane"] = Lane(data["lane"])
        return WpSummary(**known, data=data)


@dataclass(frozen=True)
class RunSummary(_Typed):
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
    corrupt: list[CorruptState]
    merge: Optional["MergeReport"] = None
    """The merge that ended the run (``auto_merge``)."""
    merge_error: Optional[dict[str, Any]] = None
    """``{code, message}`` when that merge failed."""
    warnings: list[str] = field(default_factory=list)
    """What did not stop the run but needs a person (spec-kitty's files not written, and why)."""

    @staticmethod
    def _from(data: dict[str, Any]) -> "RunSummary":
        known = _known(RunSummary, data)
        known["wps"] = [WpSummary._from(wp) for wp in data["wps"]]
        known["corrupt"] = [CorruptState._from(c) for c in data.get("corrupt", [])]
        if data.get("merge") is not None:
            known["merge"] = MergeReport._from(data["merge"])
        return RunSummary(**known, data=data)


@dataclass(frozen=True)
class MergeStep(_Typed):
    """One WP of a merge, in the order they land: ``action`` is ``merge``, ``already_merged``,
    ``in_target``, ``no_changes``, ``not_done``, ``excluded``, ``conflicts`` or ``after_conflict``."""

    wp: str
    title: str
    action: str
    branch: Optional[str]
    head: Optional[str]
    commit: Optional[str]
    lane: Optional[str] = None
    """The WP's lane, for ``not_done``."""
    because: Optional[str] = None
    """The dependency that does not land (``excluded``) or conflicts (``after_conflict``)."""

    @staticmethod
    def _from(data: dict[str, Any]) -> "MergeStep":
        return MergeStep(**_known(MergeStep, data), data=data)


@dataclass(frozen=True)
class MergeReport(_Typed):
    """What a merge did: ``outcome`` is ``"merged"``, ``"nothing_to_merge"``, ``"dry_run"`` or
    ``"verify_failed"`` (nothing landed)."""

    feature: str
    target: str
    strategy: str
    outcome: str
    previous: Optional[str]
    commit: Optional[str]
    steps: list[MergeStep]
    conflicts: list[dict[str, Any]]
    resolutions: list[dict[str, Any]]
    worktree_updated: Optional[str]
    verify: Optional[dict[str, Any]]
    integration_worktree: Optional[str]
    pushed: Optional[PushReport] = None
    push_error: Optional[dict[str, Any]] = None
    """``{code, message}`` when the push after the merge failed (the landing stands)."""
    cleanup: list[dict[str, Any]] = field(default_factory=list)
    """Per landed WP: ``worktree_removed``, ``backup``, ``branch_deleted``, ``kept_as``, ``note``."""
    report: Optional[dict[str, Any]] = None
    """The feature's report after the merge (``Orchestrator.report`` gives it typed)."""
    pull_request: Optional[dict[str, Any]] = None
    pr_error: Optional[dict[str, Any]] = None
    ticked: list[str] = field(default_factory=list)
    """WPs whose task box (``tasks.md``, a ``PLAN.md``) the landing ticked."""
    warnings: list[str] = field(default_factory=list)
    """Problems the landing went on after (a task line changed since it was read)."""

    @property
    def merged(self) -> list[str]:
        """The WPs that landed (or would, in a dry run), in order."""
        return [s.wp for s in self.steps if s.action == "merge"]

    @staticmethod
    def _from(data: dict[str, Any]) -> "MergeReport":
        known = _known(MergeReport, data)
        known["steps"] = [MergeStep._from(s) for s in data["steps"]]
        if data.get("pushed") is not None:
            known["pushed"] = PushReport._from(data["pushed"])
        return MergeReport(**known, data=data)


@dataclass(frozen=True)
class RemoteHost(_Typed):
    """A machine's heartbeat on a shared remote: ``age_seconds`` is by this machine's clock
    (a hint; runs judge leases by when they themselves saw a heartbeat change)."""

    host: str
    heartbeat_at: str
    age_seconds: int
    run_id: Optional[str] = None

    @staticmethod
    def _from(data: dict[str, Any]) -> "RemoteHost":
        return RemoteHost(**_known(RemoteHost, data), data=data)


@dataclass(frozen=True)
class RemoteStatus(_Typed):
    """A shared feature's board as its remote has it, with each machine's heartbeat."""

    remote: str
    feature: str
    wps: dict[str, WpState]
    corrupt: list[CorruptState]
    hosts: list[RemoteHost]
    abort_requested: Optional[str] = None

    @staticmethod
    def _from(data: dict[str, Any]) -> "RemoteStatus":
        return RemoteStatus(
            remote=data["remote"],
            feature=data["feature"],
            wps={wp: WpState._from(state) for wp, state in data["wps"].items()},
            corrupt=[CorruptState._from(c) for c in data.get("corrupt", [])],
            hosts=[RemoteHost._from(h) for h in data.get("hosts", [])],
            abort_requested=data.get("abort_requested"),
            data=data,
        )

    def host(self, host: str) -> Optional[RemoteHost]:
        """The heartbeat of ``host``, if it has one."""
        return next((h for h in self.hosts if h.host == host), None)


@dataclass(frozen=True)
class RemoteAbort(_Typed):
    """What ``abort_remote`` did: the ``request`` commit on the remote, and whether a run of
    the feature in this clone was signalled too (``local_run``)."""

    remote: str
    request: str
    local_run: bool

    @staticmethod
    def _from(data: dict[str, Any]) -> "RemoteAbort":
        return RemoteAbort(**_known(RemoteAbort, data), data=data)


@dataclass(frozen=True)
class PushReport(_Typed):
    """What a push did: ``refs`` lists every ref with ``reference``, ``old``, ``new`` and
    ``status`` (``"created"``, ``"updated"`` or ``"up_to_date"``)."""

    remote: str
    refs: list[dict[str, Any]]

    @staticmethod
    def _from(data: dict[str, Any]) -> "PushReport":
        return PushReport(**_known(PushReport, data), data=data)


@dataclass(frozen=True)
class PullRequest(_Typed):
    """A pull request: its ``number`` and web address."""

    number: int
    url: str

    @staticmethod
    def _from(data: dict[str, Any]) -> "PullRequest":
        return PullRequest(number=data["number"], url=data["url"], data=data)


@dataclass(frozen=True)
class PullRequestReport(_Typed):
    """What ``pull_request`` did: the ``pull_request`` (``number`` and ``url``, also here as
    properties), whether it was ``created`` (else the open one was updated), ``via`` what, and
    the push before it."""

    pull_request: PullRequest
    created: bool
    repository: str
    via: str
    head: str
    base: str
    pushed: PushReport

    @staticmethod
    def _from(data: dict[str, Any]) -> "PullRequestReport":
        return PullRequestReport(
            pull_request=PullRequest._from(data["pull_request"]),
            created=data["created"],
            repository=data["repository"],
            via=data["via"],
            head=data["head"],
            base=data["base"],
            pushed=PushReport._from(data["pushed"]),
            data=data,
        )

    @property
    def number(self) -> int:
        """The pull request's number."""
        return self.pull_request.number

    @property
    def url(self) -> str:
        """The pull request's web address."""
        return self.pull_request.url


@dataclass(frozen=True)
class GraphNode(_Typed):
    """One WP of a :class:`FeatureGraph`: ``class_`` is how it is drawn (``"done"``, ``"doing"``,
    ``"planned"``, ``"blocked"``; ``class`` in the data), ``layer`` its dependency layer."""

    id: str
    title: str
    lane: Lane
    class_: str
    layer: int

    @staticmethod
    def _from(data: dict[str, Any]) -> "GraphNode":
        return GraphNode(
            id=data["id"], title=data["title"], lane=data["lane"], class_=data["class"], layer=data["layer"], data=data
        )


@dataclass(frozen=True)
class GraphEdge(_Typed):
    """``to`` depends on ``from_`` (``from`` in the data)."""

    from_: str
    to: str

    @staticmethod
    def _from(data: dict[str, Any]) -> "GraphEdge":
        return GraphEdge(from_=data["from"], to=data["to"], data=data)


@dataclass(frozen=True)
class LaneCount(_Typed):
    """How many WPs are in one lane."""

    lane: Lane
    count: int

    @staticmethod
    def _from(data: dict[str, Any]) -> "LaneCount":
        return LaneCount(**_known(LaneCount, data), data=data)


@dataclass(frozen=True)
class FeatureGraph(_Typed):
    """The feature as an editor draws it: ``nodes`` in dependency order, ``edges``, WPs per lane,
    and the ``fingerprint`` of the refs it was read from (it changes whenever any moves)."""

    feature: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    lanes: list[LaneCount]
    fingerprint: str

    @staticmethod
    def _from(data: dict[str, Any]) -> "FeatureGraph":
        return FeatureGraph(
            feature=data["feature"],
            nodes=[GraphNode._from(n) for n in data["nodes"]],
            edges=[GraphEdge._from(e) for e in data["edges"]],
            lanes=[LaneCount._from(c) for c in data["lanes"]],
            fingerprint=data["fingerprint"],
            data=data,
        )


@dataclass(frozen=True)
class FeatureReport(_Typed):
    """A feature's report: ``outcome`` (``"complete"``, ``"partial"``, ``"failed"``), ``done``
    of ``total``, per-WP work in ``wps`` (each with its ``depends_on`` and its agent ``runs``),
    ``landing``, ``verify``, ``resolutions``; the markdown (with the dependency graph as Mermaid)
    and the HTML page are not here: ``kitty-orchestrator report [--format html]`` prints them."""

    feature: str
    outcome: str
    done: int
    total: int
    cost_usd: float
    agent_ms: int
    wps: list[dict[str, Any]]
    landing: Optional[dict[str, Any]]
    verify: Optional[dict[str, Any]]
    resolutions: list[dict[str, Any]]
    pull_request: Optional[dict[str, Any]] = None
    """The feature's pull request (``number``, ``url``, ``head``, ``base``), once ``pr`` opened one."""

    @staticmethod
    def _from(data: dict[str, Any]) -> "FeatureReport":
        return FeatureReport(**_known(FeatureReport, data), data=data)


@dataclass(frozen=True)
class Event(_Typed):
    """A run event; ``type`` tells which (the same values as in Rust, the CLI and Node)."""

    type: ClassVar[str] = "event"
    feature: str


@dataclass(frozen=True)
class RunStarted(Event):
    """The run began (or resumed)."""

    type: ClassVar[str] = "run_started"
    run_id: str
    wps: int
    done: int


@dataclass(frozen=True)
class LaneChanged(Event):
    """A WP moved to another lane (``from_lane``, ``to_lane``: the same names on every surface)."""

    type: ClassVar[str] = "lane_changed"
    wp: str
    from_lane: Lane
    to_lane: Lane
    agent: Optional[str]


@dataclass(frozen=True)
class AgentStarted(Event):
    """An agent process started."""

    type: ClassVar[str] = "agent_started"
    wp: str
    agent: str
    role: str
    attempt: int
    pid: Optional[int]
    log: str


@dataclass(frozen=True)
class AgentOutput(Event):
    """One line of agent output (only when asked for), secrets redacted."""

    type: ClassVar[str] = "agent_output"
    wp: str
    agent: str
    stream: str
    line: str


@dataclass(frozen=True)
class PlanStep(_Typed):
    """One step of an agent's plan: ``content`` and ``status`` (``pending``, ``in_progress``,
    ``completed``)."""

    content: str
    status: str


@dataclass(frozen=True)
class Activity(_Typed):
    """What an agent reported doing (agents driven over ACP); ``type`` tells which."""

    type: ClassVar[str] = "activity"

    def describe(self) -> str:
        """A one-line description, as the CLI's progress view shows it."""
        return self.type


@dataclass(frozen=True)
class ToolCallActivity(Activity):
    """A tool call started or changed ``status`` (``pending``, ``in_progress``, ``completed``,
    ``failed``); ``tool`` is its kind (``read``, ``edit``, ``execute``, …)."""

    type: ClassVar[str] = "tool_call"
    id: str
    title: str
    tool: str
    status: str
    paths: list[str]

    def describe(self) -> str:
        return f"tool {self.title} ({self.tool}): {self.status}"


@dataclass(frozen=True)
class PlanActivity(Activity):
    """The agent's plan, whole (each report replaces the last)."""

    type: ClassVar[str] = "plan"
    steps: list[PlanStep]

    def describe(self) -> str:
        done = sum(1 for s in self.steps if s.status == "completed")
        return f"plan: {done}/{len(self.steps)} steps done"


@dataclass(frozen=True)
class PermissionActivity(Activity):
    """A permission the agent asked for, and the orchestrator's answer (by policy)."""

    type: ClassVar[str] = "permission"
    title: str
    tool: str
    allowed: bool
    reason: str

    def describe(self) -> str:
        return f"permission {'granted' if self.allowed else 'refused'}: {self.title} ({self.reason})"


@dataclass(frozen=True)
class UsageActivity(Activity):
    """Context window use and cost so far."""

    type: ClassVar[str] = "usage"
    used_tokens: int
    context_tokens: int
    cost_usd: Optional[float]

    def describe(self) -> str:
        cost = "" if self.cost_usd is None else f", ${self.cost_usd:.4f}"
        return f"usage: {self.used_tokens}/{self.context_tokens} tokens{cost}"


_ACTIVITIES: dict[str, type[Activity]] = {
    cls.type: cls for cls in (ToolCallActivity, PlanActivity, PermissionActivity, UsageActivity)
}


def activity_from_dict(data: dict[str, Any]) -> Activity:
    """The typed activity for the engine's activity data."""
    cls = _ACTIVITIES.get(data.get("type", ""), Activity)
    known = _known(cls, data)
    if cls is PlanActivity:
        known["steps"] = [PlanStep(**_known(PlanStep, s), data=s) for s in data.get("steps", [])]
    return cls(**known, data=data)


@dataclass(frozen=True)
class AgentActivity(Event):
    """What an agent reported doing, typed (tool calls, plans, permission answers, usage); sent
    for agents driven over ACP, whether or not output lines were asked for."""

    type: ClassVar[str] = "agent_activity"
    wp: str
    agent: str
    activity: Activity


@dataclass(frozen=True)
class AgentFinished(Event):
    """An agent process ended."""

    type: ClassVar[str] = "agent_finished"
    wp: str
    agent: str
    role: str
    attempt: int
    success: bool
    failure: Optional[str]
    summary: str
    duration_ms: int
    cost_usd: Optional[float]


@dataclass(frozen=True)
class RetryScheduled(Event):
    """A failed attempt will be retried."""

    type: ClassVar[str] = "retry_scheduled"
    wp: str
    agent: str
    attempt: int
    delay_ms: int
    failure: str


@dataclass(frozen=True)
class WpBlocked(Event):
    """A WP needs a person."""

    type: ClassVar[str] = "wp_blocked"
    wp: str
    reason: str
    log: Optional[str]


@dataclass(frozen=True)
class RunFinished(Event):
    """The run ended."""

    type: ClassVar[str] = "run_finished"
    run_id: str
    summary: RunSummary


@dataclass(frozen=True)
class MergeVerified(Event):
    """A merge ran ``verify_command`` on its integration (``round`` 0: before any fix)."""

    type: ClassVar[str] = "merge_verified"
    round: int
    passed: bool
    fix_agent: Optional[str]
    log: str


@dataclass(frozen=True)
class MergeResolved(Event):
    """An agent resolved a merge conflict."""

    type: ClassVar[str] = "merge_resolved"
    wp: str
    agent: str
    paths: list[str]
    commit: str


@dataclass(frozen=True)
class Merged(Event):
    """Done WPs landed on a branch."""

    type: ClassVar[str] = "merged"
    target: str
    commit: str
    strategy: str
    wps: list[str]


_EVENTS: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        RunStarted,
        LaneChanged,
        AgentStarted,
        AgentOutput,
        AgentActivity,
        AgentFinished,
        RetryScheduled,
        WpBlocked,
        RunFinished,
        MergeVerified,
        MergeResolved,
        Merged,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The typed event for the engine's event data."""
    cls = _EVENTS.get(data.get("type", ""), Event)
    known = _known(cls, data)
    if cls is LaneChanged:
        known["from_lane"] = Lane(data["from_lane"])
        known["to_lane"] = Lane(data["to_lane"])
    if cls is RunFinished:
        known["summary"] = RunSummary._from(data["summary"])
    if cls is AgentActivity:
        known["activity"] = activity_from_dict(data["activity"])
    return cls(**known, data=data)


@dataclass(frozen=True)
class ClonedWorkspace(_Typed):
    """The workspace a feature runs in after :func:`clone_workspace`."""

    name: str
    path: str
    reused: bool
    """It existed (a clone of the same URL) and was fetched and reused."""
    branch: Optional[str]
    warnings: list[str]
    """Problems it went on after (a fetch that failed, a branch that could not fast-forward)."""

    @staticmethod
    def _from(data: dict[str, Any]) -> "ClonedWorkspace":
        return ClonedWorkspace(**_known(ClonedWorkspace, data), data=data)


@dataclass(frozen=True)
class WorkspaceFeature(_Typed):
    """A feature of a workspace with its progress from the refs."""

    feature: str
    source: Optional[str]
    """Its files relative to the workspace (None: only in the refs)."""
    wps: int
    done: int
    lanes: dict[str, int]
    run: Optional[str]
    """The last run's status (``running``, ``finished``, ``aborted``…)."""
    problem: Optional[str]

    @staticmethod
    def _from(data: dict[str, Any]) -> "WorkspaceFeature":
        return WorkspaceFeature(**_known(WorkspaceFeature, data), data=data)


@dataclass(frozen=True)
class Workspace(_Typed):
    """One workspace: its origin (credentials masked), branch and features."""

    name: str
    path: str
    origin: Optional[str]
    branch: Optional[str]
    features: list[WorkspaceFeature]
    problem: Optional[str]

    @staticmethod
    def _from(data: dict[str, Any]) -> "Workspace":
        known = _known(Workspace, data)
        known["features"] = [WorkspaceFeature._from(f) for f in data["features"]]
        return Workspace(**known, data=data)


@dataclass(frozen=True)
class RemovedWorkspace(_Typed):
    """What :func:`remove_workspace` did: ``backup`` is the bundle every ref is in."""

    path: str
    backup: Optional[str]
    unsaved: list[str]
    worktrees_removed: list[str]

    @staticmethod
    def _from(data: dict[str, Any]) -> "RemovedWorkspace":
        return RemovedWorkspace(**_known(RemovedWorkspace, data), data=data)


def build(cls: type[T], data: Any) -> T:
    """``cls`` built from the engine's data."""
    return cls._from(data)  # type: ignore[attr-defined, no-any-return]


# The engine builds these objects itself, by the core's struct and enum names (see
# bindings-python/src/typed/): a board of 1000 WPs wrapped dict by dict here cost as much as
# reading it from git. Registered once, when this module is first imported.
from . import _native  # noqa: E402

_native.register_types(
    {
        "FeatureStatus": FeatureStatus,
        "RunState": RunState,
        "WpState": WpState,
        "Owner": Owner,
        "CorruptState": CorruptState,
        "HistoryEntry": HistoryEntry,
    },
    {"Lane": {lane.value: lane for lane in Lane}},
)
