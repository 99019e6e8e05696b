"""Shared fixtures for language-model tests: a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sim.llm.openai_compatible import OpenAICompatibleModel


class FakeOpenAI(ThreadingHTTPServer):
    """An OpenAI-compatible chat-completions server.

    Each request takes the next step of ``script`` (``"ok"`` once it is empty): ``ok`` echoes the
    last message, ``say:TEXT`` answers TEXT, ``429:SECONDS`` rate-limits with that Retry-After,
    ``500``/``503``/``400``/``401`` fail with that status (401 echoes the Authorization header),
    ``slow`` answers after 1 s, ``not_json`` and ``no_choices`` send malformed bodies.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.delay_s = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out hangs up before a slow reply is written."""


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with srv.lock:
            srv.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            step = srv.script.pop(0) if srv.script else "ok"
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        self._counted = True
        try:
            self._act(step, body)
        finally:
            self._leave()

    def _leave(self) -> None:
        """Stop counting this request as in flight (once): before its reply is written, since a
        client may send its next request the moment the reply arrives."""
        if getattr(self, "_counted", False):
            self._counted = False
            with self.server.lock:
                self.server.in_flight -= 1

    def _act(self, step: str, body: dict[str, Any]) -> None:
        kind, _, arg = step.partition(":")
        if kind == "slow":
            time.sleep(1.0)
            kind = "ok"
        if kind in ("ok", "say"):
            time.sleep(self.server.delay_s)
            last = body["messages"][-1]["content"]
            message = {"role": "assistant", "content": arg if kind == "say" else f"echo: {last}"}
            finish = "length" if body["max_tokens"] == 1 else "stop"
            choice = {"index": 0, "message": message, "finish_reason": finish}
            usage = {"prompt_tokens": len(last), "completion_tokens": 2}
            self._send(200, json.dumps({"choices": [choice], "usage": usage}))
        elif kind == "429":
            self._send(429, '{"error": {"message": "slow down"}}', {"Retry-After": arg})
        elif kind == "401":
            sent = self.headers.get("Authorization")
            self._send(401, json.dumps({"error": {"message": f"Incorrect API key: {sent}"}}))
        elif kind in ("400", "500", "503"):
            self._send(int(kind), json.dumps({"error": {"message": f"fake {kind}"}}))
        elif kind == "not_json":
            self._send(200, "<html>oops</html>")
        elif kind == "no_choices":
            self._send(200, '{"object": "chat.completion"}')
        else:
            raise AssertionError(f"unknown step {step!r}")

    def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._leave()
        data = text.encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI()
    threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def connect(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., OpenAICompatibleModel]]:
    """Make models pointed at the fake server, with fast backoff; closes them afterwards."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    models: list[OpenAICompatibleModel] = []

    def make(**overrides: Any) -> OpenAICompatibleModel:
        options = {"model": "fake-model", "base_url": server.base_url, "backoff_s": 0.01}
        model = OpenAICompatibleModel(**{"timeout_s": 2.0, **options, **overrides})
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()
