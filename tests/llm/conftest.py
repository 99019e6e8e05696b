"""Shared fixtures for language-model tests: a scripted OpenAI-compatible server on 127.0.0.1, and
the real bundled model, loaded once per test session (per xdist worker)."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from sim.llm.openai_compatible import OpenAICompatibleModel

FAULT = re.compile(r"\[fault:([^\]]*)\]")
CHOOSE_HEADER = "Choose one of these options:"
LISTED = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)
TOKEN = re.compile(r"\d|[^\W\d]+|\s+|[^\w\s]+")


class FakeOpenAI(ThreadingHTTPServer):
    """An OpenAI-compatible chat-completions server.

    Each request takes the next step of ``script`` (``"ok"`` once it is empty): ``ok`` echoes the
    last message, ``say:TEXT`` answers TEXT, ``429:SECONDS`` rate-limits with that Retry-After,
    ``500``/``503``/``400``/``401``/``403``/``404`` fail with that status (401 echoes the
    Authorization header), ``slow`` answers after 1 s, ``not_json`` and ``no_choices`` send
    malformed bodies.

    Per-request faults: a marker ``[fault:STEP]`` in the last message makes every request with
    that message take STEP instead of the script (``[fault:STEP*N]``: only its first N times).
    Extra steps: ``empty`` (empty content), ``drip`` (headers, then one body byte every 0.3 s),
    ``stall`` (headers and five body bytes 0.1 s apart, then nothing for 30 s), ``slow:SECONDS``,
    ``reason_echo`` (a 500 whose reason phrase and body echo the Authorization header),
    ``400ctx`` (a 400 saying the prompt exceeds the context length).
    ``bill_failures``: error bodies report usage too (``FAILED_USAGE``).

    Choices: a request whose conversation lists options (``N. text`` lines after
    ``CHOOSE_HEADER`` in a user turn) is answered per ``choose`` when that is set: ``"first"``
    names the first listed id, ``"echo"`` echoes the option list and then names one, ``"probs"``
    names the id of the most likely option of ``option_probs`` (option text -> probability).
    Answers are JSON ``{"choice": ID}`` when the request sent a schema form, else the bare id.
    When a request asks for logprobs the answer carries them (one token per digit); at the id
    token the alternatives are the listed ids with the log of ``option_probs`` (the chosen id
    alone when that is empty).
    """

    daemon_threads = True
    FAILED_USAGE: ClassVar[dict[str, int]] = {"prompt_tokens": 7, "completion_tokens": 3}

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.delay_s = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.bill_failures = False
        self.choose: str | None = None
        self.option_probs: dict[str, float] = {}
        self.fault_counts: dict[str, int] = {}
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def billed(self) -> tuple[int, int]:
        """Prompt and completion tokens of every reply that reported usage."""
        usages = [r["usage"] for r in self.replies if r.get("usage")]
        return (
            sum(u["prompt_tokens"] for u in usages),
            sum(u["completion_tokens"] for u in usages),
        )

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out hangs up before a slow reply is written."""


def _fault_step(srv: FakeOpenAI, last: str) -> str | None:
    match = FAULT.search(last)
    if match is None:
        return None
    step, _, times = match.group(1).partition("*")
    seen = srv.fault_counts.get(last, 0)
    srv.fault_counts[last] = seen + 1
    if times and seen >= int(times):
        return None
    return step


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        last = body["messages"][-1]["content"]
        with srv.lock:
            srv.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "t": time.monotonic(),
                }
            )
            step = _fault_step(srv, last)
            if step is None:
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
        srv = self.server
        kind, _, arg = step.partition(":")
        if kind == "slow":
            time.sleep(float(arg) if arg else 1.0)
            kind = "ok"
        if kind in ("ok", "say", "empty", "drip", "stall"):
            time.sleep(srv.delay_s)
            last = body["messages"][-1]["content"]
            if kind == "say":
                text, chosen = arg, None
            elif kind == "empty":
                text, chosen = "", None
            else:
                text, chosen = _answer(srv, body, last)
            message = {"role": "assistant", "content": text}
            finish = "length" if body.get("max_tokens") == 1 else "stop"
            choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
            if body.get("logprobs"):
                choice["logprobs"] = {"content": _logprobs(srv, body, text, chosen)}
            usage = {"prompt_tokens": len(last), "completion_tokens": 2}
            reply = json.dumps({"choices": [choice], "usage": usage})
            if kind == "drip":
                self._drip(reply)
            elif kind == "stall":
                self._stall(reply)
            else:
                self._send(200, reply, usage=usage)
        elif kind == "429":
            self._fail(429, "slow down", {"Retry-After": arg})
        elif kind == "401":
            sent = self.headers.get("Authorization")
            self._fail(401, f"Incorrect API key: {sent}")
        elif kind in ("400", "403", "404", "500", "503"):
            self._fail(int(kind), f"fake {kind}")
        elif kind == "400ctx":
            self._fail(400, "This model's maximum context length is 4096 tokens")
        elif kind == "reason_echo":
            sent = self.headers.get("Authorization")
            self._fail(500, f"received Authorization: {sent}", reason=f"Oops {sent} here")
        elif kind == "not_json":
            self._send(200, "<html>oops</html>")
        elif kind == "no_choices":
            self._send(200, '{"object": "chat.completion"}')
        else:
            raise AssertionError(f"unknown step {step!r}")

    def _fail(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"error": {"message": message}}
        usage = dict(FakeOpenAI.FAILED_USAGE) if self.server.bill_failures else None
        if usage:
            body["usage"] = usage
        self._send(status, json.dumps(body), headers, reason=reason, usage=usage)

    def _send(
        self,
        status: int,
        text: str,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
        usage: dict[str, int] | None = None,
    ) -> None:
        self._leave()
        with self.server.lock:
            self.server.replies.append({"status": status, "usage": usage, "t": time.monotonic()})
        data = text.encode()
        self.send_response(status, reason)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drip(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(0.3)

    def _stall(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for i in range(5):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(0.1)
        time.sleep(30)


def _listed(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The (id, option text) pairs the latest choose prompt of a conversation lists (re-asks
    included), in listed order."""
    for message in reversed(body["messages"]):
        if message["role"] == "user" and CHOOSE_HEADER in message["content"]:
            return LISTED.findall(message["content"].rsplit(CHOOSE_HEADER, 1)[1])
    return []


def _wants_json(body: dict[str, Any]) -> bool:
    return "response_format" in body or "json_schema" in body


def _answer(srv: FakeOpenAI, body: dict[str, Any], last: str) -> tuple[str, str | None]:
    """The reply text and, for a choice, the id it names."""
    listed = _listed(body)
    if not listed or srv.choose is None:
        return f"echo: {last}", None
    if srv.choose == "probs":
        chosen = max(listed, key=lambda pair: srv.option_probs.get(pair[1], 0.0))[0]
    else:
        chosen = listed[0][0]
    if srv.choose == "echo":
        listing = "\n".join(f"{i}. {text}" for i, text in listed)
        return f"{listing}\nI choose {chosen}.", chosen
    if _wants_json(body):
        return json.dumps({"choice": chosen}), chosen
    return chosen, chosen


def _logprobs(
    srv: FakeOpenAI, body: dict[str, Any], text: str, chosen: str | None
) -> list[dict[str, Any]]:
    """One entry per token of ``text``; at the token of ``chosen``, the listed ids' logprobs."""
    listed = dict(_listed(body))
    entries = []
    marked = False
    for token in TOKEN.findall(text):
        entry: dict[str, Any] = {"token": token, "logprob": -0.01, "top_logprobs": []}
        if chosen is not None and token == chosen and not marked and srv.choose != "echo":
            marked = True
            probs = {i: srv.option_probs.get(option, 0.0) for i, option in listed.items()}
            if not any(probs.values()):
                probs = {chosen: 1.0}
            top = [{"token": i, "logprob": math.log(p)} for i, p in probs.items() if p > 0]
            entry = {"token": token, "logprob": math.log(probs[chosen]), "top_logprobs": top}
        else:
            entry["top_logprobs"] = [{"token": token, "logprob": -0.01}]
        entries.append(entry)
    return entries


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


@dataclass(frozen=True)
class LoadedModel:
    """The session's bundled model and how long pulling and loading it took."""

    model: Any
    load_s: float


@pytest.fixture(scope="session")
def loaded_local_model() -> Iterator[LoadedModel]:
    """The bundled SmolLM2 (``make_model("local")``: grammar-constrained replies), loaded once for
    every real-model test of the session: loading costs seconds, each test's batches do not."""
    from sim.llm import make_model
    from sim.llm.model_store import pull

    started = time.perf_counter()
    pull()  # converts once on a machine that has never done so; instant afterwards
    model = make_model("local")
    yield LoadedModel(model, time.perf_counter() - started)
    model.close()


@pytest.fixture(scope="session")
def local_model(loaded_local_model: LoadedModel) -> Any:
    """The session's bundled model. Tests share it: one that changes its state (the prompt
    store, ``max_batch_size``) clears or monkeypatches what it changed."""
    return loaded_local_model.model
