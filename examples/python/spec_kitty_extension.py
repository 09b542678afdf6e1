"""A spec-kitty extension driving a mission in-process with kitty-orchestrator.

spec-kitty's own Python (a command, a dashboard plugin, a hook) can run a mission through the
engine without subprocesses: `Orchestrator.run(slug)` works in spec-kitty's execution lanes and
worktrees and writes every lane change into the mission's status log, so spec-kitty's board
updates as the run goes. Events arrive on the calling thread's callback as typed objects.

    python examples/python/spec_kitty_extension.py <repo> <mission-slug>

The agents come from `.kittify/orchestrator.toml` (or pass a dict as the second argument of
`Orchestrator`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import kitty_orchestrator as ko


def on_event(event: ko.Event) -> None:
    """What an extension would forward to its UI: lane changes and agent starts."""
    if isinstance(event, ko.LaneChanged):
        # The same move is now in kitty-specs/<slug>/status.events.jsonl of the coord worktree.
        print(f"{event.wp}: {event.from_lane} -> {event.to_lane}")
    elif isinstance(event, ko.AgentStarted):
        print(f"{event.wp}: {event.role} by {event.agent}")


async def drive(repo: Path, mission: str) -> int:
    orchestrator = ko.Orchestrator(repo)
    summary = await orchestrator.run_async(mission, on_event=on_event)
    print(f"{summary.outcome}: {summary.done} approved, {summary.blocked} blocked")
    if summary.outcome == "completed":
        # spec-kitty lands its missions itself; `merge` delegates to `spec-kitty merge`.
        report = await orchestrator.merge_async(mission)
        print(f"landed on {report.target} at {report.commit}")
    return 0 if summary.outcome == "completed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(drive(Path(sys.argv[1]), sys.argv[2])))
