"""The HTTP side of the OpenAI-compatible backend: one request, its attempts, and their cost.

- Deadline: ``timeout_s`` bounds each attempt as a whole (connect, send, headers and the whole
  body). It starts when the attempt is sent, not while the request waits for a concurrency slot.
  The body is streamed and the deadline checked between chunks; a watchdog shuts the socket down
  at the deadline so that a server that stalls mid-body cannot hold the request either.
- Retries: connect errors, HTTP 429 and 5xx and malformed bodies are retried (``max_retries``),
  after an exponential backoff with jitter drawn from the request's own seeded `random.Random`
  (reproducible runs), or after the server's ``Retry-After``, both capped at ``max_backoff_s``.
  A request that timed out after it was sent is not re-sent unless ``retry_timeouts``: the server
  may still be working on it, and a duplicate would pile work on an overloaded server.
- Overload: a 429 or 503 pauses every request of this transport until its backoff has passed
  (a shared "paused until" time checked before each send), so an overloaded server gets air.
- Cost: every attempt is counted in a `Tally` (requests sent, failures and their one-line
  reasons, billed tokens of every body that reported usage, round-trip time).
- Secrets: every reason, message and log line goes through `redact` (reason phrases and bodies
  included: some servers echo the Authorization header).
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import itertools
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from sim.llm.errors import BudgetExceededError
from sim.llm.redact import clean
from sim.llm.types import Usage

logger = logging.getLogger("sim.llm.openai_compatible")

_CONTEXT_WORDS = ("context length", "context_length", "maximum context", "context window")
"""Words of a 400 that is about one request's size, not about the request form."""


@dataclass
class Tally:
    """What serving one request has cost so far, over all its attempts."""

    requests: int = 0
    failed_requests: int = 0
    failures: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    def usage(self, backend: str, model: str, structured: str) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_s=self.latency_s,
            backend=backend,
            model=model,
            requests=self.requests,
            failed_requests=self.failed_requests,
            failures=tuple(self.failures),
            structured=structured,
        )


@dataclass(frozen=True)
class Reply:
    """A successful chat completion: its text, finish reason and token logprobs (if sent)."""

    text: str
    finish_reason: str
    logprobs: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Failed:
    """A request that failed for good: a one-line, redacted reason; whether retrying later may
    help."""

    reason: str
    transient: bool


class FormatRejected(Exception):
    """HTTP 400 on a request that carried a structured form: the server rejects the form."""


@dataclass(frozen=True)
class _Outcome:
    reply: Reply | None = None
    problem: str = ""
    retry: bool = False
    transient: bool = False
    retry_after: float | None = None
    overload: bool = False
    status: int | None = None
    elapsed: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _DeadlinePassed(Exception):
    pass


class _Watchdog:
    """One daemon thread that runs actions at their deadlines unless disarmed first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, Callable[[], None]] = {}
        self._fired: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, action: Callable[[], None]) -> int:
        with self._cond:
            token = next(self._ids)
            self._armed[token] = action
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="mercato-llm-deadline", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return token

    def disarm(self, token: int) -> bool:
        """Cancel ``token``; True when its action already ran."""
        with self._cond:
            self._armed.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
            return False

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                action = self._armed.pop(token)
                self._fired.add(token)
                with contextlib.suppress(Exception):  # a watchdog must survive its actions
                    action()


_WATCHDOG = _Watchdog()


def _shutdown(sock: socket.socket) -> None:
    """Wake up a thread blocked reading ``sock`` (works for TLS sockets too)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Transport:
    """Sends chat-completions payloads to ``url`` for one model object (see the module doc)."""

    def __init__(
        self,
        *,
        client: httpx.Client,
        url: str,
        label: str,
        timeout_s: float,
        max_retries: int,
        backoff_s: float,
        max_backoff_s: float,
        retry_timeouts: bool,
        hint: Callable[[int, str], str],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.url = url
        self.label = label
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.retry_timeouts = retry_timeouts
        self.hint = hint
        self.paused_until = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep

    def send(
        self,
        payload: dict[str, Any],
        *,
        tally: Tally,
        rng: random.Random,
        key: str,
        form: str | None = None,
        gate: Callable[[], None] | None = None,
        abort: threading.Event | None = None,
    ) -> Reply | Failed:
        """Serve ``payload`` with retries; charge ``tally`` for every attempt.

        ``form`` names the structured parts the payload carries: a 400 then raises
        `FormatRejected`. ``gate`` is called before each attempt; a `BudgetExceededError` from
        it fails the request unsent. ``abort`` set: stop before the next attempt.
        """
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        secrets = (key,)
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            self._wait_for_pause(abort)
            if abort is not None and abort.is_set():
                return Failed(f"{self.label}: batch aborted", transient=False)
            if gate is not None:
                try:
                    gate()
                except BudgetExceededError as exc:
                    reason = f"budget exhausted ({clean(str(exc), secrets, 200)})"
                    tally.failures.append(reason)
                    return Failed(f"{self.label}: {reason}", transient=False)
            outcome = self._attempt(payload, headers, secrets)
            tally.requests += 1
            tally.latency_s += outcome.elapsed
            tally.prompt_tokens += outcome.prompt_tokens
            tally.completion_tokens += outcome.completion_tokens
            if outcome.reply is not None:
                return outcome.reply
            tally.failed_requests += 1
            tally.failures.append(outcome.problem)
            if outcome.status == 400 and form is not None:
                lowered = outcome.problem.lower()
                if not any(word in lowered for word in _CONTEXT_WORDS):
                    raise FormatRejected(outcome.problem)
            wait_s = self._backoff(attempt, outcome.retry_after, rng)
            if outcome.overload:
                with self._lock:
                    self.paused_until = max(self.paused_until, time.monotonic() + wait_s)
            if not outcome.retry or attempt + 1 == attempts:
                after = f" (after {attempt + 1} attempts)" if attempt else ""
                logger.info("%s: %s%s; giving up", self.label, outcome.problem, after)
                return Failed(f"{self.label}: {outcome.problem}{after}", outcome.transient)
            logger.info(
                "%s: %s; retry %d/%d in %.2fs",
                self.label,
                outcome.problem,
                attempt + 1,
                self.max_retries,
                wait_s,
            )
            if abort is not None:
                abort.wait(wait_s)
            else:
                self._sleep(wait_s)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        base = self.backoff_s * 2**attempt
        return min(base + rng.uniform(0.0, base), self.max_backoff_s)

    def _wait_for_pause(self, abort: threading.Event | None) -> None:
        while True:
            with self._lock:
                left = self.paused_until - time.monotonic()
            if left <= 0 or (abort is not None and abort.is_set()):
                return
            if abort is not None:
                abort.wait(left)
            else:
                self._sleep(left)

    def _attempt(
        self, payload: dict[str, Any], headers: dict[str, str], secrets: tuple[str, ...]
    ) -> _Outcome:
        start = time.monotonic()
        deadline = start + self.timeout_s
        timed_out = _Outcome(
            problem=f"timed out after {self.timeout_s:g}s"
            + ("" if self.retry_timeouts else " (not re-sent: the server may still be working)"),
            retry=self.retry_timeouts,
            transient=self.retry_timeouts,  # else a retry wrapper would re-send it after all
        )
        cutter = _Cutter(deadline)
        try:
            try:
                with self.client.stream(
                    "POST",
                    self.url,
                    json=payload,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout_s),
                    extensions={"trace": cutter.trace},
                ) as response:
                    body = cutter.read_body(response)
            finally:
                cutter.disarm()
        except _DeadlinePassed:
            outcome = timed_out
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            outcome = _Outcome(
                problem=f"connection failed ({type(exc).__name__})", retry=True, transient=True
            )
        except httpx.TimeoutException:
            outcome = timed_out
        except (httpx.HTTPError, OSError) as exc:
            if cutter.fired or time.monotonic() >= deadline:
                outcome = timed_out
            else:
                outcome = _Outcome(
                    problem=f"connection failed ({type(exc).__name__})", retry=True, transient=True
                )
        else:
            outcome = self._judge(response, body, secrets)
        elapsed = time.monotonic() - start
        return replace(outcome, elapsed=elapsed)

    def _judge(self, response: httpx.Response, body: bytes, secrets: tuple[str, ...]) -> _Outcome:
        status = response.status_code
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        prompt_tokens, completion_tokens = _billed(parsed)
        cost = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
        if 200 <= status < 300:
            reply = _parse_reply(parsed)
            if isinstance(reply, Reply):
                return _Outcome(reply=reply, status=status, **cost)
            return _Outcome(
                problem=f"malformed response ({reply})",
                retry=True,
                transient=True,
                status=status,
                **cost,
            )
        shown = f"HTTP {status}"
        phrase = clean(response.reason_phrase, secrets, 100)
        if phrase:
            shown += f" {phrase}"
        detail = clean(_error_detail(parsed, text), secrets, 200)
        if detail:
            shown += f": {detail}"
        if status == 429 or status >= 500:
            return _Outcome(
                problem=shown,
                retry=True,
                transient=True,
                retry_after=_retry_after(response),
                overload=status in (429, 503),
                status=status,
                **cost,
            )
        return _Outcome(problem=shown + self.hint(status, text), status=status, **cost)


class _Cutter:
    """Holds one attempt to its deadline.

    Through httpcore's ``trace`` extension it lowers each phase's read and write timeouts to the
    time left when the phase starts, and arms the watchdog on the socket as soon as it is known
    (on connect for a fresh connection, else once the response headers are in); the watchdog
    shuts the socket down at the deadline. Between body chunks the deadline is checked too.
    """

    _PHASES = (
        ".send_request_headers.started",
        ".send_request_body.started",
        ".receive_response_headers.started",
        ".receive_response_body.started",
    )

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._token: int | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith(self._PHASES):
            request = info.get("request")
            timeouts = getattr(request, "extensions", {}).get("timeout")
            if isinstance(timeouts, dict):
                left = max(self.deadline - time.monotonic(), 0.001)
                timeouts["read"] = timeouts["write"] = left
        elif name.endswith(("connect_tcp.complete", "start_tls.complete")):
            self._watch(info.get("return_value"))

    def _watch(self, stream: Any) -> None:
        """Watch the socket of ``stream`` (a TLS socket replaces the plain one it wraps)."""
        try:
            sock = stream.get_extra_info("socket") if stream is not None else None
        except Exception:  # transports without sockets (mocks) get no watchdog
            return
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sock = sock
            if self._token is None:
                self._token = _WATCHDOG.arm(self.deadline, self._cut)

    def _cut(self) -> None:
        sock = self._sock  # one attribute read: no lock (the watchdog holds its own)
        if sock is not None:
            _shutdown(sock)

    def disarm(self) -> None:
        """Stop watching (before the connection goes back to the pool)."""
        with self._lock:
            token, self._token = self._token, None
        if token is not None and _WATCHDOG.disarm(token):
            self.fired = True

    def read_body(self, response: httpx.Response) -> bytes:
        """The whole body, or `_DeadlinePassed` once the deadline has passed."""
        if time.monotonic() >= self.deadline:
            raise _DeadlinePassed
        self._watch(response.extensions.get("network_stream"))
        chunks = []
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() >= self.deadline:
                raise _DeadlinePassed
        self.disarm()
        if self.fired:  # the socket was cut: what arrived may look complete but is not
            raise _DeadlinePassed
        return b"".join(chunks)


def _billed(body: Any) -> tuple[int, int]:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _parse_reply(body: Any) -> Reply | str:
    """The reply in a chat-completions body, or what is wrong with the body."""
    if body is None:
        return "body is not JSON"
    try:
        choice = body["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        return "no string at choices[0].message.content"
    if not content.strip() and choice.get("finish_reason") != "length":
        return "empty content"  # a server fault (retried), not a reply the model chose to give
    logprobs = choice.get("logprobs")
    tokens = logprobs.get("content") if isinstance(logprobs, dict) else None
    return Reply(
        text=content,
        finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        logprobs=tokens if isinstance(tokens, list) else None,
    )


def _error_detail(body: Any, text: str) -> str:
    """The server's own error message where the body has one, else the body text."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return body["message"]
        if isinstance(body.get("detail"), str):
            return body["detail"]
    return text


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), if the server sent one."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
