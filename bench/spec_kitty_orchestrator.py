#!/usr/bin/env python3
"""Side-by-side: one spec-kitty 3.x mission run by spec-kitty-orchestrator (PyPI) and by
`kitty-orchestrator orchestrate`, on the same machine in one invocation, with the same stand-in
`claude` (tests/fixtures/agents/fake-agent, claude JSON output). Reports wall time and how many
`spec-kitty` processes each started (a counting shim sits first on PATH).

    python3 bench/spec_kitty_orchestrator.py [--wps 6] [--venv DIR]

Needs spec-kitty-cli==3.2.7 and spec-kitty-orchestrator installed in --venv (default: .venv),
and target/release/kitty-orchestrator (else target/debug).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

from spec_kitty_mission import make_mission, sk_json  # noqa: E402


def shim_dir(tmp: Path, real: Path, counter: Path) -> Path:
    """A PATH directory whose `spec-kitty` counts its calls, and whose `claude` is the fake."""
    d = tmp / "shims"
    d.mkdir()
    (d / "spec-kitty").write_text(f"#!/bin/sh\necho x >> {counter}\nexec {real} \"$@\"\n")
    (d / "spec-kitty").chmod(0o755)
    (d / "claude").symlink_to(ROOT / "tests" / "fixtures" / "agents" / "fake-agent")
    return d


def run(label: str, argv: list[str], repo: Path, env: dict[str, str], counter: Path) -> tuple[float, int, int]:
    counter.write_text("")
    start = time.monotonic()
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - start
    calls = len(counter.read_text().splitlines())
    print(f"{label}: exit {done.returncode}, {wall:.1f} s wall, {calls} spec-kitty processes", flush=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
    return wall, calls, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wps", type=int, default=6)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    args = parser.parse_args()
    real = args.venv / "bin" / "spec-kitty"
    sko = args.venv / "bin" / "spec-kitty-orchestrator"
    ours = ROOT / "target" / "release" / "kitty-orchestrator"
    if not ours.exists():
        ours = ROOT / "target" / "debug" / "kitty-orchestrator"
    graph = {f"WP{k:02d}": ([f"WP{k - 1:02d}"] if k % 3 == 0 else []) for k in range(1, args.wps + 1)}
    results = {}
    for label in ("spec-kitty-orchestrator", "kitty-orchestrator"):
        tmp = Path(tempfile.mkdtemp(prefix="sk-bench-"))
        counter = tmp / "calls"
        counter.touch()
        env = dict(os.environ)
        env.update(HOME=str(tmp / "home"), SPEC_KITTY_NO_UPGRADE_CHECK="1", FAKE_FORMAT="claude", FAKE_STANDALONE="1")
        (tmp / "home").mkdir()
        repo, slug = make_mission(tmp, graph)
        env["PATH"] = f"{shim_dir(tmp, real, counter)}{os.pathsep}{real.parent}{os.pathsep}{env['PATH']}"
        if label == "spec-kitty-orchestrator":
            argv = [str(sko), "orchestrate", "--mission", slug, "--max-concurrent", "4"]
        else:
            argv = [str(ours), "orchestrate", "--mission", slug, "--impl-agent", "claude-code",
                    "--review-agent", "claude-code", "--max-concurrent", "4"]
        results[label] = run(label, argv, repo, env, counter)
        state = sk_json(repo, "orchestrator-api", "mission-state", "--mission", slug)
        lanes = sorted({wp["lane"] for wp in state["data"]["work_packages"]})
        print(f"  spec-kitty sees: {lanes}")
        shutil.rmtree(tmp, ignore_errors=True)
    (a_wall, a_calls, _), (b_wall, b_calls, _) = results["spec-kitty-orchestrator"], results["kitty-orchestrator"]
    print(f"ratio (ours / spec-kitty-orchestrator): wall {b_wall / a_wall:.3f}, spec-kitty processes {b_calls} vs {a_calls}")


if __name__ == "__main__":
    main()
