"""Same-interface wrappers around any model: retry, on-disk response cache, call/token budget.

Results that failed for good (``error`` set) pass through: `RetryingModel` re-sends the transient
ones, `CachedModel` never stores them, `BudgetedModel` counts every request that was sent.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sim.llm.errors import BudgetExceededError, TransientLLMError
from sim.llm.types import (
    BaseLanguageModel,
    Choice,
    ChooseRequest,
    Completion,
    GenerateRequest,
    LanguageModel,
    Usage,
    choice_from_dict,
    completion_from_dict,
    request_key,
    with_usage,
)


class ModelWrapper(BaseLanguageModel):
    """Delegates to ``inner``; subclasses change what happens around the call."""

    def __init__(self, inner: LanguageModel) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.model_id = inner.model_id

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self.inner.generate(requests)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self.inner.choose(requests)

    @property
    def structured(self) -> str:
        """The inner model's structured-reply mode (``"off"`` where it has none)."""
        return getattr(self.inner, "structured", "off")

    @property
    def key_note(self) -> str | None:
        """The inner model's note on where its API key comes from, if it has one."""
        return getattr(self.inner, "key_note", None)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


def merge_usage(earlier: Usage, later: Usage) -> Usage:
    """``later`` with the attempts, failures, tokens and latency of ``earlier`` added."""
    return replace(
        later,
        prompt_tokens=earlier.prompt_tokens + later.prompt_tokens,
        completion_tokens=earlier.completion_tokens + later.completion_tokens,
        latency_s=earlier.latency_s + later.latency_s,
        requests=earlier.requests + later.requests,
        failed_requests=earlier.failed_requests + later.failed_requests,
        failures=(*earlier.failures, *later.failures),
    )


class RetryingModel(ModelWrapper):
    """Retries transient failures with exponential backoff (``backoff_s * 2**k``).

    Two kinds: a whole batch that raised one of ``retry_on`` is sent again; results that failed
    transiently (``Completion.transient`` / ``Choice.transient``) are re-sent on their own, the
    rest of the batch is kept. A re-sent result carries the usage of its earlier tries (requests,
    failures, billed tokens). ``attempts`` counts tries of each request, the first included.
    """

    def __init__(
        self,
        inner: LanguageModel,
        attempts: int = 3,
        backoff_s: float = 0.5,
        retry_on: tuple[type[BaseException], ...] = (TransientLLMError,),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(inner)
        if attempts < 1:
            raise ValueError(f"attempts: expected an integer >= 1, got {attempts}")
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.retry_on = retry_on
        self._sleep = sleep

    def _retry(self, call: Callable[[list], list], requests: list) -> list:
        results: list | None = None
        pending = list(range(len(requests)))
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                fresh = call([requests[i] for i in pending])
            except self.retry_on:
                if attempt == self.attempts - 1:
                    if results is None:
                        raise
                    return results  # keep the failed results of the earlier try
                continue
            if results is None:
                results = list(fresh)
            else:
                for i, result in zip(pending, fresh, strict=True):
                    results[i] = replace(result, usage=merge_usage(results[i].usage, result.usage))
            pending = [i for i in pending if results[i].failed and results[i].transient]
            if not pending:
                break
        assert results is not None
        return results

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self._retry(self.inner.generate, requests)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self._retry(self.inner.choose, requests)


def cache_key(
    kind: str, backend: str, model_id: str, request: GenerateRequest | ChooseRequest
) -> str:
    """The full identity of a request: what it asks, of which model. Never includes credentials."""
    return f"{kind}|{backend}|{model_id}|{request_key(request)}"


class CachedModel(ModelWrapper):
    """An on-disk cache (SQLite) of results keyed by the full request and the model identity.

    Only misses reach the inner model, still as one batch. Hits come back with ``usage.cached=True``
    and zero latency. Failed results (``error`` set) are never stored. Safe across processes
    (SQLite with WAL); requests with ``seed=None`` and a positive temperature are cached too,
    which makes re-runs reproducible.
    """

    def __init__(self, inner: LanguageModel, path: str | Path) -> None:
        super().__init__(inner)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
        self.hits = 0
        self.misses = 0

    def _lookup(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for key in keys:
                row = self._db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    found[key] = json.loads(row[0])
        return found

    def _store(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in items],
            )

    def _cached_batch(
        self, kind: str, requests: list[Any], call: Callable, decode: Callable
    ) -> list:
        keys = [cache_key(kind, self.backend, self.model_id, r) for r in requests]
        found = self._lookup(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(requests) - len(missing)
        self.misses += len(missing)
        fresh = call([requests[i] for i in missing]) if missing else []
        self._store(
            [
                (keys[i], asdict(result))
                for i, result in zip(missing, fresh, strict=True)
                if not result.failed
            ]
        )
        results: list[Any] = [None] * len(requests)
        for i, result in zip(missing, fresh, strict=True):
            results[i] = result
        for i, key in enumerate(keys):
            if results[i] is None:
                results[i] = with_usage(decode(found[key]), cached=True, latency_s=0.0)
        return results

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self._cached_batch("generate", requests, self.inner.generate, completion_from_dict)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self._cached_batch("choose", requests, self.inner.choose, choice_from_dict)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        super().close()


def gated_backend(model: Any) -> Any | None:
    """The innermost model of a wrapper chain (through ``inner``) that offers a
    ``request_gate`` hook, or None."""
    seen = set()
    while model is not None and id(model) not in seen:
        seen.add(id(model))
        if "request_gate" in getattr(model, "__dict__", {}):
            return model
        model = getattr(model, "inner", None)
    return None


class BudgetedModel(ModelWrapper):
    """Refuses requests beyond ``max_requests`` requests sent or ``max_tokens`` total tokens.

    Every request sent counts, failed ones and retries included. Backends with a
    ``request_gate`` hook (the HTTP backend, found through ``inner`` chains) ask the budget
    before each attempt: once it is spent, the remaining requests fail with "budget exhausted"
    without being sent, so a server never sees more than ``max_requests`` requests. Other
    backends are refused a batch that could overshoot, and charged ``usage.requests`` after.
    A call made once the budget is spent raises `BudgetExceededError`. The token budget is
    charged after each batch; once spent every further call is refused.
    """

    def __init__(
        self, inner: LanguageModel, max_requests: int | None = None, max_tokens: int | None = None
    ) -> None:
        super().__init__(inner)
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests_used = 0
        self.tokens_used = 0
        self._lock = threading.Lock()
        self._gated = gated_backend(inner)
        if self._gated is not None:
            previous = self._gated.request_gate

            def gate() -> None:
                if previous is not None:
                    previous()
                self._take_request()

            self._gated.request_gate = gate

    def _take_request(self) -> None:
        """Reserve one request of the budget or raise `BudgetExceededError`."""
        with self._lock:
            if self.max_requests is not None and self.requests_used >= self.max_requests:
                raise BudgetExceededError(
                    f"request budget: {self.requests_used} of {self.max_requests} used"
                )
            self.requests_used += 1

    def _charge(self, n_requests: int, call: Callable[[], list]) -> list:
        with self._lock:
            used = self.requests_used
        if self.max_requests is not None:
            if used >= self.max_requests:
                raise BudgetExceededError(
                    f"request budget: {used} of {self.max_requests} used; no request left"
                )
            if self._gated is None and used + n_requests > self.max_requests:
                raise BudgetExceededError(
                    f"request budget: {used} of {self.max_requests} used; "
                    f"a batch of {n_requests} would exceed it"
                )
        if self.max_tokens is not None and self.tokens_used >= self.max_tokens:
            raise BudgetExceededError(
                f"token budget: {self.tokens_used} of {self.max_tokens} tokens used"
            )
        results = call()
        fresh = [r for r in results if not r.usage.cached]
        with self._lock:
            if self._gated is None:
                self.requests_used += sum(r.usage.requests for r in fresh)
            self.tokens_used += sum(r.usage.total_tokens for r in fresh)
        return results

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self._charge(len(requests), lambda: self.inner.generate(requests))

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self._charge(len(requests), lambda: self.inner.choose(requests))
