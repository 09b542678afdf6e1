"""Real spec-kitty (3.2.7 and 4.0) missions for the interop tests, built with spec-kitty's own commands
(init, mission create, WP files with owned_files and subtasks, finalize-tasks), and a runner for
its CLI with a private HOME and no upgrade check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: The spec-kitty of each supported major version: scripts/test installs 3.2.7 into the test venv
#: and 4.0 into .venv-sk4, and names both (KITTY_TEST_SPEC_KITTY_3/_4).
SPEC_KITTYS = {
    "3": Path(os.environ.get("KITTY_TEST_SPEC_KITTY_3") or Path(sys.executable).parent / "spec-kitty"),
    "4": Path(os.environ.get("KITTY_TEST_SPEC_KITTY_4") or ROOT / ".venv-sk4" / "bin" / "spec-kitty"),
}
#: The one the current test speaks to (set per test by the `spec_kitty_version` fixture).
SPEC_KITTY = SPEC_KITTYS["3"]
MAJOR = "3"


def use_spec_kitty(major: str) -> Path:
    """Makes `major`'s spec-kitty the one `sk` runs; returns its path."""
    global SPEC_KITTY, MAJOR
    SPEC_KITTY, MAJOR = SPEC_KITTYS[major], major
    return SPEC_KITTY


def land_command() -> str:
    """spec-kitty's command that lands a mission: `merge` (3.x) or `consolidate` (4.0)."""
    return "consolidate" if MAJOR == "4" else "merge"


def spec_kitty_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        SPEC_KITTY_NO_UPGRADE_CHECK="1",
        SPEC_KITTY_NON_INTERACTIVE="1",
        COLUMNS="200",
        # git merges in spec-kitty repositories call `spec-kitty merge-driver-event-log`.
        PATH=f"{SPEC_KITTY.parent}{os.pathsep}{env.get('PATH', '')}",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    return env


def sk(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs `spec-kitty ARGS` in `repo`."""
    home = repo.parent / "home"
    home.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(SPEC_KITTY), *args], cwd=repo, env=spec_kitty_env(home), capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise AssertionError(f"spec-kitty {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def sk_json(repo: Path, *args: str) -> Any:
    """`spec-kitty ARGS` whose stdout is one JSON document."""
    return json.loads(sk(repo, *args).stdout)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


WP_FILE = """---
work_package_id: {wp}
title: {title}
dependencies:{deps}
subtasks:
{subtasks}
requirement_refs:
- FR-001
create_intent:
- src/{lower}.txt
owned_files:
- src/{lower}.txt
---

# {wp} – {title}

Write src/{lower}.txt.

## Subtasks

{subtask_sections}
"""


def make_mission(tmp_path: Path, graph: dict[str, list[str]]) -> tuple[Path, str]:
    """A repository with a finalized coord-topology mission whose WPs are `graph` (WP -> deps).
    Returns (repo, mission slug)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    sk(repo, "init", "--ai", "claude", "--non-interactive")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "spec-kitty init")
    created = sk_json(
        repo, "agent", "mission", "create", "demo", "--json", "--friendly-name", "Demo",
        "--start-branch", "feature/demo", "--topology", "coord",
    )
    slug = created["mission_slug"]
    feature = repo / "kitty-specs" / slug
    tasks_md = ["# Tasks", ""]
    n = 0
    for wp, deps in graph.items():
        subtasks = [f"T{n + k + 1:03d}" for k in range(2)]
        n += 2
        dep_text = "".join(f"\n- {d}" for d in deps) if deps else " []"
        (feature / "tasks" / f"{wp}-part.md").write_text(
            WP_FILE.format(
                wp=wp,
                title=f"Part {wp}",
                deps=dep_text,
                subtasks="\n".join(f"- {t}" for t in subtasks),
                lower=wp.lower(),
                subtask_sections="\n".join(f"### {t}: step {t}\n" for t in subtasks),
            )
        )
        tasks_md += [f"## {wp} Part {wp}"]
        if deps:
            tasks_md += [f"Depends on {', '.join(deps)}"]
        tasks_md += [f"- [ ] {t} step" for t in subtasks] + [""]
    (feature / "tasks.md").write_text("\n".join(tasks_md) + "\n")
    (feature / "spec.md").write_text(
        "# Spec\n\n## Functional Requirements\n\n| ID | Requirement |\n|----|----|\n| FR-001 | The parts exist. |\n"
    )
    (feature / "plan.md").write_text("# Plan\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tasks")
    sk(repo, "agent", "mission", "finalize-tasks", "--mission", slug, "--json")
    return repo, slug


def coord_log(repo: Path, slug: str) -> list[dict[str, Any]]:
    """The lane events and annotations of the coordination worktree's status log — or, once 4.0's
    `consolidate` has landed the mission and removed that worktree, of the landed copy on the
    mission's target branch (`feature/demo`)."""
    path = repo / ".worktrees" / f"{slug}-coord" / "kitty-specs" / slug / "status.events.jsonl"
    text = path.read_text() if path.exists() else git(repo, "show", f"feature/demo:kitty-specs/{slug}/status.events.jsonl")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def lane_events(repo: Path, slug: str, wp: str) -> list[tuple[str, str]]:
    """(from, to) of a WP's lane events, in spec-kitty's order (at, event_id)."""
    events = [e for e in coord_log(repo, slug) if e.get("wp_id") == wp and "to_lane" in e]
    events.sort(key=lambda e: (e["at"], e["event_id"]))
    return [(e["from_lane"], e["to_lane"]) for e in events]
