"""Same-interface wrappers around any model: retry, on-disk response cache, call/token budget."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
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

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


class RetryingModel(ModelWrapper):
    """Retries a whole batch on transient failures, with exponential backoff."""

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

    def _retry(self, call: Callable[[], Any]) -> Any:
        for attempt in range(self.attempts):
            try:
                return call()
            except self.retry_on:
                if attempt == self.attempts - 1:
                    raise
                self._sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self._retry(lambda: self.inner.generate(requests))

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self._retry(lambda: self.inner.choose(requests))


def cache_key(
    kind: str, backend: str, model_id: str, request: GenerateRequest | ChooseRequest
) -> str:
    """The full identity of a request: what it asks, of which model. Never includes credentials."""
    return f"{kind}|{backend}|{model_id}|{request_key(request)}"


class CachedModel(ModelWrapper):
    """An on-disk cache (SQLite) of results keyed by the full request and the model identity.

    Only misses reach the inner model, still as one batch. Hits come back with ``usage.cached=True``
    and zero latency. Safe across processes (SQLite with WAL); requests with ``seed=None`` and a
    positive temperature are cached too, which makes re-runs reproducible.
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
        self._store([(keys[i], asdict(result)) for i, result in zip(missing, fresh, strict=True)])
        results: list[Any] = [None] * len(requests)
        for i, result in zip(missing, fresh, strict=True):
            results[i] = result
        for i, key in enumerate(keys):
            if results[i] is None:
                results[i] = with_usage(decode(found[key]), cached=True, latency_s=0.0)
        return results

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        def decode(d: dict[str, Any]) -> Completion:
            return Completion(d["text"], Usage(**d["usage"]), d["finish_reason"])

        return self._cached_batch("generate", requests, self.inner.generate, decode)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        def decode(d: dict[str, Any]) -> Choice:
            return Choice(
                d["index"], d["option"], Usage(**d["usage"]), d["method"], tuple(d["scores"])
            )

        return self._cached_batch("choose", requests, self.inner.choose, decode)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        super().close()


class BudgetedModel(ModelWrapper):
    """Refuses calls beyond ``max_requests`` requests or ``max_tokens`` total tokens.

    The request budget is checked before a batch (a batch that would overshoot is refused whole);
    the token budget is charged after each batch, and once spent every further call is refused.
    """

    def __init__(
        self, inner: LanguageModel, max_requests: int | None = None, max_tokens: int | None = None
    ) -> None:
        super().__init__(inner)
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests_used = 0
        self.tokens_used = 0

    def _charge(self, n_requests: int, call: Callable[[], list]) -> list:
        if self.max_requests is not None and self.requests_used + n_requests > self.max_requests:
            raise BudgetExceededError(
                f"request budget: {self.requests_used} of {self.max_requests} used; "
                f"a batch of {n_requests} would exceed it"
            )
        if self.max_tokens is not None and self.tokens_used >= self.max_tokens:
            raise BudgetExceededError(
                f"token budget: {self.tokens_used} of {self.max_tokens} tokens used"
            )
        results = call()
        self.requests_used += n_requests
        self.tokens_used += sum(r.usage.total_tokens for r in results if not r.usage.cached)
        return results

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self._charge(len(requests), lambda: self.inner.generate(requests))

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self._charge(len(requests), lambda: self.inner.choose(requests))
