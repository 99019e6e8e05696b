"""One model per node, shared by every rollout worker on it: a Ray actor that merges requests.

Workers call `RemoteModel`, which forwards each batch to the node's `ModelServer`. The server
waits a few milliseconds for other workers' batches, merges everything that arrived into one
``generate`` (or ``choose``) call on its single copy of the model, and hands each caller its
share. So a node holds one copy of the weights however many workers it runs, and the model sees
batches as large as all workers together produce.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from sim.llm.spec import make_model, parse_spec
from sim.llm.types import BaseLanguageModel, Choice, ChooseRequest, Completion, GenerateRequest


def placement(spec: Any) -> str | None:
    """Where a model spec is served on Ray: ``"node"`` (it loads weights: one actor per node),
    ``"run"`` (an HTTP endpoint: one client actor per run, so one concurrency limit and one
    circuit breaker hold across every worker) or None (built in each worker: the fake)."""
    if isinstance(spec, str):
        spec = parse_spec(spec)
    backend = spec.get("backend") if isinstance(spec, Mapping) else None
    return {"local": "node", "openai": "run"}.get(backend)


def pull_bundled(spec: Any) -> None:
    """Obtain a bundled local model on this machine if the spec names one not yet pulled (what
    `mercato models pull` does; quick when it is already there)."""
    from sim.llm.model_store import BUNDLED, DEFAULT_MODEL, pull

    config = parse_spec(spec) if isinstance(spec, str) else spec
    if not isinstance(config, Mapping) or config.get("backend") != "local":
        return
    name = str(config.get("path", DEFAULT_MODEL))
    if name in BUNDLED:
        pull(name)


class ModelServer:
    """Holds one model; merges concurrent callers' batches (use as a Ray actor, async)."""

    def __init__(self, spec: Any, window_s: float = 0.005) -> None:
        pull_bundled(spec)  # a cluster node may not have the weights yet
        self.model = make_model(spec)
        self.window_s = window_s
        self._queue: list[tuple[str, list[Any], asyncio.Future]] = []
        self._draining = False
        self._drainer: asyncio.Task | None = None

    def identity(self) -> dict[str, Any]:
        """What a `RemoteModel` needs to stand in for the model."""
        return {
            "backend": self.model.backend,
            "model_id": self.model.model_id,
            "structured": getattr(self.model, "structured", "off"),
            "key_note": getattr(self.model, "key_note", None),
        }

    async def call(self, kind: str, requests: list[Any]) -> list[Any]:
        """Serve one caller's batch of ``kind`` (``generate`` or ``choose``) requests."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((kind, requests, future))
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())  # kept: tasks are weakly held
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(self.window_s)
            while self._queue:
                kind = self._queue[0][0]
                batch = [item for item in self._queue if item[0] == kind]
                self._queue = [item for item in self._queue if item[0] != kind]
                merged = [r for _, requests, _ in batch for r in requests]
                try:
                    results = await loop.run_in_executor(None, getattr(self.model, kind), merged)
                except Exception as error:  # every caller of this batch gets the model's error
                    for _, _, future in batch:
                        future.set_exception(error)
                    continue
                offset = 0
                for _, requests, future in batch:
                    future.set_result(results[offset : offset + len(requests)])
                    offset += len(requests)
        finally:
            self._draining = False


class RemoteModel(BaseLanguageModel):
    """A `LanguageModel` whose calls go to a `ModelServer` actor."""

    def __init__(
        self,
        server: Any,
        backend: str,
        model_id: str,
        structured: str = "off",
        key_note: str | None = None,
    ) -> None:
        self.server = server
        self.backend = backend
        self.model_id = model_id
        self.structured = structured
        self.key_note = key_note

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        import ray

        return ray.get(self.server.call.remote("generate", requests))

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        import ray

        return ray.get(self.server.call.remote("choose", requests))
