"""A deterministic, scriptable model for tests and dry runs.

Without a script it answers every request with a seeded pseudo-reply that depends only on the
request and the model seed, so runs are reproducible. With a script it replays canned answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from sim.llm.errors import InvalidRequestError, TransientLLMError
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


def _digest(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest(), "big")


class FakeModel(BaseLanguageModel):
    """Deterministic fake backend.

    - ``responses``: a list (replayed in order, cycling), a dict (the first key found as a
      substring of the last message wins; key ``"*"`` is the default), or ``request -> str``.
    - ``choices``: a list of indices (replayed in order, cycling, clipped into range) or a callable
      ``request -> int``; without it the index is a seeded draw from the request.
    - ``fail_times``: the first N calls raise `TransientLLMError` (for retry tests).
    Every call is recorded in ``calls`` as ``(kind, requests)``.
    """

    backend = "fake"

    def __init__(
        self,
        seed: int = 0,
        responses: TextScript | None = None,
        choices: ChoiceScript | None = None,
        fail_times: int = 0,
        model_id: str = "fake",
    ) -> None:
        self.seed = seed
        self.model_id = model_id
        self._responses = responses
        self._choices = choices
        self._fail_left = fail_times
        self._generate_turn = 0
        self._choose_turn = 0
        self.calls: list[tuple[str, list[GenerateRequest] | list[ChooseRequest]]] = []

    def _maybe_fail(self) -> None:
        if self._fail_left > 0:
            self._fail_left -= 1
            raise TransientLLMError("fake model: injected transient failure")

    def _scripted_text(self, request: GenerateRequest) -> str:
        script = self._responses
        if script is None:
            h = _digest(self.seed, request_key(request))
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

    def _usage(self, messages: Iterable[Mapping[str, str]], completion: str) -> Usage:
        prompt = sum(_count_tokens(m["content"]) for m in messages)
        return Usage(prompt, _count_tokens(completion), 0.0, self.backend, self.model_id)

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        self.calls.append(("generate", requests))
        self._maybe_fail()
        out = []
        for r in requests:
            text, finish = self._truncate(self._scripted_text(r), r)
            out.append(Completion(text, self._usage(r.messages, text), finish))
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
        out = []
        for r in requests:
            i = self._scripted_index(r)
            out.append(Choice(i, r.options[i], self._usage(r.messages, r.options[i]), "scripted"))
        return out
