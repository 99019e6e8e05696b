"""One model shared by many live sessions: calls from concurrent threads merged into batches.

Each play session runs its episode in a thread of its own, and its LLM opponents ask for one
decision at a time. `MergingModel` gathers the calls that arrive within ``window_s`` of each
other into one ``generate`` (or ``choose``) call of the wrapped model and hands each caller its
share, as `sim.llm.server.ModelServer` does for Ray workers with asyncio. The first waiting
caller leads: it sleeps the window, takes every queued call of its kind, calls the model, hands
out the results, and the next waiting caller leads the next batch (one model call at a time).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sim.llm.types import BaseLanguageModel, Choice, ChooseRequest, Completion, GenerateRequest
from sim.llm.wrappers import ModelWrapper


@dataclass(eq=False)
class _Call:
    kind: str
    requests: list[Any]
    results: list[Any] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class MergeStats:
    """What the wrapper did: model ``calls`` made, ``requests`` served, each batch's size."""

    calls: int = 0
    requests: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class MergingModel(ModelWrapper):
    """Merges concurrent callers' batches into one call of ``inner`` (thread-safe)."""

    def __init__(
        self, inner: BaseLanguageModel, window_s: float = 0.01, max_batch: int = 512
    ) -> None:
        super().__init__(inner)
        self.window_s = window_s
        self.max_batch = max_batch
        self.stats = MergeStats()
        self._queue: list[_Call] = []
        self._leading = False
        self._cond = threading.Condition()

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        return self._call("generate", requests)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        return self._call("choose", requests)

    def _call(self, kind: str, requests: list[Any]) -> list[Any]:
        call = _Call(kind, list(requests))
        with self._cond:
            self._queue.append(call)
            while not call.done and self._leading:
                self._cond.wait()
            if call.done:
                return _outcome(call)
            self._leading = True
        try:
            self._lead(call)
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        return _outcome(call)

    def _lead(self, own: _Call) -> None:
        """Wait for the window, then serve one batch of ``own``'s kind (``own`` included)."""
        if self.window_s > 0:
            time.sleep(self.window_s)
        with self._cond:
            batch, size = [], 0
            for call in self._queue:
                if call.kind == own.kind and (
                    call is own or size + len(call.requests) <= self.max_batch
                ):
                    batch.append(call)
                    size += len(call.requests)
            taken = set(map(id, batch))
            self._queue = [call for call in self._queue if id(call) not in taken]
        merged = [request for call in batch for request in call.requests]
        try:
            results = getattr(self.inner, own.kind)(merged)
            error = None
        except Exception as failure:  # every caller of this batch gets the model's error
            results, error = [], failure
        with self._cond:
            self.stats.calls += 1
            self.stats.requests += len(merged)
            self.stats.batch_sizes.append(len(merged))
            offset = 0
            for call in batch:
                n = len(call.requests)
                call.results, call.error = results[offset : offset + n], error
                call.done = True
                offset += n


def _outcome(call: _Call) -> list[Any]:
    if call.error is not None:
        raise call.error
    assert call.results is not None
    return call.results
