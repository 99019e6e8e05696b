"""Requests, results and the `LanguageModel` protocol every backend implements.

The interface is batched by design: `generate` and `choose` take lists, so one call can serve many
agents and environment instances. Requests may be typed objects or plain dicts with the same fields.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol, runtime_checkable

from sim.llm.errors import InvalidRequestError

Message = Mapping[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

ROLES = ("system", "user", "assistant")


def _freeze_messages(messages: Any) -> tuple[dict[str, str], ...]:
    if isinstance(messages, str):
        return ({"role": "user", "content": messages},)
    if not isinstance(messages, Sequence) or len(messages) == 0:
        raise InvalidRequestError(
            "messages: expected a non-empty list of {'role', 'content'} dicts or a string"
        )
    frozen = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise InvalidRequestError(f"messages[{i}]: expected a dict with 'role' and 'content'")
        if m["role"] not in ROLES:
            raise InvalidRequestError(f"messages[{i}].role: {m['role']!r} is not one of {ROLES}")
        if not isinstance(m["content"], str):
            raise InvalidRequestError(f"messages[{i}].content: expected str")
        frozen.append({"role": m["role"], "content": m["content"]})
    return tuple(frozen)


@dataclass(frozen=True)
class GenerateRequest:
    """Chat messages in, text out.

    ``temperature == 0`` means greedy decoding; ``seed`` makes sampling reproducible; generation
    stops at the first of ``stop`` (not included in the text), the end-of-turn token, or
    ``max_tokens``.
    """

    messages: tuple[dict[str, str], ...]
    max_tokens: int = 64
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    schema: dict[str, Any] | None = None
    """JSON Schema the reply must satisfy (the action as JSON). Backends with structured replies
    on enforce it at decoding time; with ``structured: off`` it is not sent and the reply is
    free text. None: free text."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _freeze_messages(self.messages))
        if self.schema is not None:
            if not isinstance(self.schema, Mapping) or not self.schema:
                raise InvalidRequestError("schema: expected a non-empty JSON Schema dict or None")
            object.__setattr__(self, "schema", dict(self.schema))
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if any(not isinstance(s, str) or s == "" for s in stop):
            raise InvalidRequestError("stop: expected a list of non-empty strings")
        object.__setattr__(self, "stop", stop)
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise InvalidRequestError(
                f"max_tokens: expected an integer >= 1, got {self.max_tokens!r}"
            )
        t = self.temperature
        if not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            raise InvalidRequestError(f"temperature: expected a finite number >= 0, got {t!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise InvalidRequestError(f"seed: expected an integer or None, got {self.seed!r}")


@dataclass(frozen=True)
class ChooseRequest:
    """Pick one of ``options`` as the reply to ``messages`` (constrained choice)."""

    messages: tuple[dict[str, str], ...]
    options: tuple[str, ...]
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _freeze_messages(self.messages))
        options = (self.options,) if isinstance(self.options, str) else tuple(self.options or ())
        if not options or any(not isinstance(o, str) or o == "" for o in options):
            raise InvalidRequestError("options: expected a non-empty list of non-empty strings")
        object.__setattr__(self, "options", options)
        if self.seed is not None and not isinstance(self.seed, int):
            raise InvalidRequestError(f"seed: expected an integer or None, got {self.seed!r}")


@dataclass(frozen=True)
class Usage:
    """What one request cost, over every attempt made to serve it.

    ``latency_s`` is the wall time spent serving it: for batched backends the time of the whole
    batch it shared, for HTTP backends its own round trips. ``prompt_tokens`` and
    ``completion_tokens`` are billed tokens of every attempt (failed ones included, where the
    server reported them). ``requests`` counts the requests sent (HTTP attempts; 1 for local
    backends), ``failed_requests`` those that failed, and ``failures`` gives each failure's
    one-line reason (secrets redacted). ``structured`` is the structured-reply mode that served
    the request: ``"off"`` or the backend's form (``"json_schema"``, ``"grammar"``, ...).
    """

    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    backend: str
    model: str
    cached: bool = False
    requests: int = 1
    failed_requests: int = 0
    failures: tuple[str, ...] = ()
    structured: str = "off"

    def __post_init__(self) -> None:
        object.__setattr__(self, "failures", tuple(self.failures))

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    """The answer to a `GenerateRequest`. ``finish_reason`` is ``"stop"`` or ``"length"``.

    ``error`` is set (and ``text`` is empty) when this request failed for good after its
    retries; the other requests of its batch are unaffected. ``transient`` says whether trying
    again later might succeed (rate limit, server error, timeout, malformed body).
    """

    text: str
    usage: Usage
    finish_reason: str = "stop"
    error: str | None = None
    transient: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Choice:
    """The answer to a `ChooseRequest`: ``index`` into its options, always valid.

    ``method`` says how it was made: ``"loglik"`` (scored by log-likelihood), ``"answer"`` (the
    model named an option), ``"fallback"`` (no usable answer or a failed request: a seeded draw
    that must not be read as the model's choice), ``"scripted"``.
    ``scores`` holds one number per option, in the request's option order, where the backend has
    them: for ``loglik`` the option's mean log-likelihood per token (its tokens and the end token,
    so length alone does not rank it), for ``answer`` the log-probability of the option's one-token
    id. ``raw`` is the model's raw answer (empty for scored choices), ``error`` the failure of a
    request that failed for good.
    """

    index: int
    option: str
    usage: Usage
    method: str = "loglik"
    scores: tuple[float, ...] = field(default=())
    raw: str = ""
    error: str | None = None
    transient: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


def _coerce(cls: type, request: Any) -> Any:
    if isinstance(request, cls):
        return request
    if not isinstance(request, Mapping):
        raise InvalidRequestError(
            f"request: expected {cls.__name__} or a dict, got {type(request).__name__}"
        )
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(request) - names)
    if unknown:
        raise InvalidRequestError(f"request: unknown field(s) {unknown}; allowed: {sorted(names)}")
    if "messages" not in request:
        raise InvalidRequestError("request: missing field 'messages'")
    return cls(**request)


def as_generate_requests(
    requests: Sequence[GenerateRequest | Mapping[str, Any]],
) -> list[GenerateRequest]:
    """Validate and convert a batch of generate requests (typed objects or dicts)."""
    return [_coerce(GenerateRequest, r) for r in requests]


def as_choose_requests(
    requests: Sequence[ChooseRequest | Mapping[str, Any]],
) -> list[ChooseRequest]:
    """Validate and convert a batch of choose requests (typed objects or dicts)."""
    return [_coerce(ChooseRequest, r) for r in requests]


def request_key(request: GenerateRequest | ChooseRequest) -> str:
    """A canonical JSON string of a request's fields: its identity for seeding and caching."""
    return json.dumps(asdict(request), sort_keys=True, ensure_ascii=False)


def with_usage(result: Completion | Choice, **changes: Any) -> Any:
    """Return ``result`` with some usage fields replaced (e.g. ``cached=True``)."""
    return replace(result, usage=replace(result.usage, **changes))


@runtime_checkable
class LanguageModel(Protocol):
    """What every backend and wrapper provides. Results come back in request order."""

    backend: str
    model_id: str

    def generate(
        self, requests: Sequence[GenerateRequest | Mapping[str, Any]]
    ) -> list[Completion]: ...

    def choose(self, requests: Sequence[ChooseRequest | Mapping[str, Any]]) -> list[Choice]: ...


class BaseLanguageModel:
    """Validates and coerces requests, then calls the backend's ``_generate``/``_choose``.

    Backends subclass this and implement the two underscore methods on typed requests.
    """

    backend: str = "base"
    model_id: str = ""
    structured: str = "off"
    """The structured-reply mode this model enforces schemas with (``off``: it ignores them)."""

    def generate(self, requests: Sequence[GenerateRequest | Mapping[str, Any]]) -> list[Completion]:
        """Generate one completion per request, in order."""
        typed = as_generate_requests(requests)
        return self._generate(typed) if typed else []

    def choose(self, requests: Sequence[ChooseRequest | Mapping[str, Any]]) -> list[Choice]:
        """Pick one option per request, in order."""
        typed = as_choose_requests(requests)
        return self._choose(typed) if typed else []

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        raise NotImplementedError

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (HTTP clients, model memory). Safe to call twice."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, model={self.model_id!r})"


# --- results back from JSON (the cache wrapper, the studio's journal) ---


def usage_from_dict(data: dict[str, Any]) -> Usage:
    """A `Usage` from `dataclasses.asdict` output read back from JSON."""
    return Usage(**{**data, "failures": tuple(data.get("failures", ()))})


def completion_from_dict(data: dict[str, Any]) -> Completion:
    """A `Completion` from `dataclasses.asdict` output read back from JSON."""
    return Completion(**{**data, "usage": usage_from_dict(data["usage"])})


def choice_from_dict(data: dict[str, Any]) -> Choice:
    """A `Choice` from `dataclasses.asdict` output read back from JSON."""
    return Choice(
        **{**data, "usage": usage_from_dict(data["usage"]), "scores": tuple(data["scores"])}
    )
