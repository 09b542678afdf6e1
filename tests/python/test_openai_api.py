"""The built-in openai-api agent from Python: detection says when it can run and why not, and a
run against a stand-in chat-completions server on loopback (a thread of this test) implements a
WP through tool calls and approves it with a verdict."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kitty_orchestrator as ko
from test_engine import git, make_repo


def completion(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    tool_calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for i, (n, a) in enumerate(calls)
    ]
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": tool_calls}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }


class StandIn:
    """Answers each POST with the next scripted completion and records the request bodies."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                reply = json.dumps(outer.script.pop(0)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def test_detection_says_why_openai_api_cannot_run() -> None:
    remote = {"agents": {"openai-api": {"base_url": "https://api.example.com/v1", "api_key_env": "KITTY_NO_SUCH_KEY"}}}
    found = {a.id: a for a in ko.detect_agents(remote)}
    assert found["openai-api"].available is False
    assert "KITTY_NO_SUCH_KEY is not set" in (found["openai-api"].why_not or "")
    local = {"agents": {"openai-api": {"base_url": "http://127.0.0.1:11434/v1"}}}
    found = {a.id: a for a in ko.detect_agents(local)}
    assert found["openai-api"].available is True and found["openai-api"].why_not is None
    assert "aider" in found


def test_a_wp_runs_through_the_api_agent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "070-api", {"WP01": []})
    server = StandIn(
        [
            completion([("write_file", {"path": "notes/plan.md", "content": "# Plan\n"})]),
            completion([("finish", {"status": "done", "summary": "planned"})]),
            completion([("verdict", {"decision": "approve", "feedback": "good"})]),
        ]
    )
    config = {
        "agents": {
            "implementation": ["openai-api"],
            "review": ["openai-api"],
            "openai-api": {"base_url": server.base_url, "model": "stand-in"},
        }
    }
    summary = ko.Orchestrator(repo, config).run("070-api")
    server.server.shutdown()
    assert summary.outcome == "completed" and summary.wps[0].agents == ["openai-api"]
    assert git(repo, "show", "070-api-WP01:notes/plan.md") == "# Plan\n"
    assert server.bodies[0]["model"] == "stand-in"
    assert any(m.get("role") == "tool" and "wrote 7 bytes" in m["content"] for m in server.bodies[1]["messages"])
