"""A deterministic, scriptable model for tests and dry runs.

Without a script it answers every request with a seeded pseudo-reply that depends only on the
request (its seed only when it samples, as with a real model) and the model seed, so runs are
reproducible (a request with a ``schema`` gets a random instance of it, as JSON). With a script
it replays canned answers.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from sim.llm.errors import InvalidRequestError, TransientLLMError
from sim.llm.schema_sample import sample_instance
from sim.llm.types import (
    BaseLanguageModel,
    Choice,
    ChooseRequest,
    Completion,
    GenerateRequest,
    Usage,
    request_key,
)

TextScript = Sequence[str] | Mapping[str, str] | Callable[[GenerateRequest], str]
ChoiceScript = Sequence[int] | Callable[[ChooseRequest], int]
FailScript = Collection[int] | Callable[[GenerateRequest | ChooseRequest], bool]

INJECTED_FAILURE = "fake model: injected request failure"

_WORDS = (
    "deal",
    "offer",
    "price",
    "fair",
    "value",
    "accept",
    "counter",
    "market",
    "quality",
    "trust",
)


def _count_tokens(text: str) -> int:
    return len(text.split())


def _reply_key(request: GenerateRequest) -> str:
    """What a pseudo-reply depends on: the whole request, but not the seed of a greedy one
    (greedy decoding ignores seeds, so greedy replies to one prompt are all the same)."""
    return request_key(replace(request, seed=None) if request.temperature == 0 else request)


def _digest(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest(), "big")


class FakeModel(BaseLanguageModel):
    """Deterministic fake backend.

    - ``responses``: a list (replayed in order, cycling), a dict (the first key found as a
      substring of the last message wins; key ``"*"`` is the default), or ``request -> str``.
    - ``choices``: a list of indices (replayed in order, cycling, clipped into range) or a callable
      ``request -> int``; without it the index is a seeded draw from the request.
    - ``fail_times``: the first N calls raise `TransientLLMError` (for retry tests).
    - ``fail_requests``: individual requests that fail (``error`` set, ``transient`` True, the
      rest of the batch answered): a set of request numbers (0-based, counted over every request
      this model has been sent, generate and choose together, so a re-sent request has a new
      number) or a callable ``request -> bool``.
    - ``structured``: the structured mode the fake reports as its ``structured`` attribute
      (default ``"off"``; ``"json_schema"`` makes policies send schemas). Whatever it says, a
      request with a ``schema`` is answered with a schema-valid JSON instance when unscripted,
      and its usage says ``structured="json_schema"``.
    - ``latency_s``: each call (a whole batch) takes this long, as a real model's would: requests
      from concurrent callers then pile up behind it (batching tests and benchmarks).
    Every call is recorded in ``calls`` as ``(kind, requests)``.
    """

    backend = "fake"
    structured = "off"

    def __init__(
        self,
        seed: int = 0,
        responses: TextScript | None = None,
        choices: ChoiceScript | None = None,
        fail_times: int = 0,
        model_id: str = "fake",
        fail_requests: FailScript | None = None,
        structured: str | None = None,
        latency_s: float = 0.0,
    ) -> None:
        if latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {latency_s}")
        self.latency_s = latency_s
        self.seed = seed
        self.model_id = model_id
        if structured is not None:
            self.structured = structured
        self._responses = responses
        self._choices = choices
        self._fail_left = fail_times
        self._fail_requests = fail_requests
        self._served = 0
        self._generate_turn = 0
        self._choose_turn = 0
        self.calls: list[tuple[str, list[GenerateRequest] | list[ChooseRequest]]] = []

    def _take_time(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)

    def _maybe_fail(self) -> None:
        if self._fail_left > 0:
            self._fail_left -= 1
            raise TransientLLMError("fake model: injected transient failure")

    def _fails(self, request: GenerateRequest | ChooseRequest) -> bool:
        """Whether this request is one ``fail_requests`` picks (and count it as served)."""
        number, self._served = self._served, self._served + 1
        script = self._fail_requests
        if script is None:
            return False
        return bool(script(request)) if callable(script) else number in script

    def _failed_usage(self) -> Usage:
        return Usage(
            0,
            0,
            0.0,
            self.backend,
            self.model_id,
            failed_requests=1,
            failures=(INJECTED_FAILURE,),
        )

    def _schema_text(self, request: GenerateRequest) -> str:
        assert request.schema is not None
        rng = np.random.default_rng(_digest(self.seed, _reply_key(request)))
        return json.dumps(sample_instance(request.schema, rng), ensure_ascii=False)

    def _scripted_text(self, request: GenerateRequest) -> str:
        script = self._responses
        if script is None:
            if request.schema is not None:
                return self._schema_text(request)
            h = _digest(self.seed, _reply_key(request))
            words = [
                _WORDS[(h >> (4 * i)) % len(_WORDS)] for i in range(min(8, request.max_tokens))
            ]
            return " ".join(words)
        if callable(script):
            return str(script(request))
        if isinstance(script, Mapping):
            last = request.messages[-1]["content"]
            for key, text in script.items():
                if key != "*" and key in last:
                    return text
            if "*" in script:
                return script["*"]
            raise InvalidRequestError(f"fake model: no scripted response matches {last[:60]!r}")
        if not script:
            raise InvalidRequestError("fake model: responses list is empty")
        text = script[self._generate_turn % len(script)]
        self._generate_turn += 1
        return text

    def _truncate(self, text: str, request: GenerateRequest) -> tuple[str, str]:
        for stop in request.stop:
            if stop in text:
                return text[: text.index(stop)], "stop"
        words = text.split(" ")
        if len(words) > request.max_tokens:
            return " ".join(words[: request.max_tokens]), "length"
        return text, "stop"

    def _usage(
        self, messages: Iterable[Mapping[str, str]], completion: str, structured: str = "off"
    ) -> Usage:
        prompt = sum(_count_tokens(m["content"]) for m in messages)
        return Usage(
            prompt,
            _count_tokens(completion),
            0.0,
            self.backend,
            self.model_id,
            structured=structured,
        )

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        self.calls.append(("generate", requests))
        self._maybe_fail()
        self._take_time()
        out = []
        for r in requests:
            if self._fails(r):
                out.append(
                    Completion("", self._failed_usage(), error=INJECTED_FAILURE, transient=True)
                )
                continue
            text = self._scripted_text(r)
            if r.schema is not None and self._responses is None:
                finish = "stop"  # a sampled instance is whole, like a constrained decode
            else:
                text, finish = self._truncate(text, r)
            structured = "json_schema" if r.schema is not None else "off"
            out.append(Completion(text, self._usage(r.messages, text, structured), finish))
        return out

    def _scripted_index(self, request: ChooseRequest) -> int:
        n = len(request.options)
        script = self._choices
        if script is None:
            return _digest(self.seed, request_key(request)) % n
        if callable(script):
            return min(max(int(script(request)), 0), n - 1)
        if not script:
            raise InvalidRequestError("fake model: choices list is empty")
        index = script[self._choose_turn % len(script)]
        self._choose_turn += 1
        return min(max(int(index), 0), n - 1)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        self.calls.append(("choose", requests))
        self._maybe_fail()
        self._take_time()
        out = []
        for r in requests:
            if self._fails(r):
                i = _digest(self.seed, request_key(r)) % len(r.options)
                failed = Choice(i, r.options[i], self._failed_usage(), "fallback")
                out.append(replace(failed, error=INJECTED_FAILURE, transient=True))
                continue
            i = self._scripted_index(r)
            out.append(Choice(i, r.options[i], self._usage(r.messages, r.options[i]), "scripted"))
        return out
