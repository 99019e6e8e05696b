"""`LLMPolicy`: observation -> text prompt -> language model -> parsed structured action.

The model is asked for every pending decision in one batch. Where the protocol states the shape of
a valid reply (a JSON Schema) and the model enforces schemas, the request carries it and the
prompt asks for that JSON. A reply that does not parse is shown its parser error and re-asked (at
most ``max_reasks`` times, again as one batch); a request that failed (after the backend's own
retries) is not re-asked. What still has no action falls back to constrained choice among the
protocol's valid actions (one batched ``choose``); what still fails takes the protocol's
documented safe default. Every decision is recorded with its whole story (requests, failures,
billed tokens, structured mode, path) so nobody reads a fallback as the model's behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.base import BatchPolicy
from envs.core.names import role_of
from envs.core.protocol import ActionParseError, TextProtocol, ValidAction
from envs.core.seeding import derive_seed
from envs.core.structured import schema_summary
from sim.llm import ChooseRequest, GenerateRequest, LanguageModel, LLMError, make_model
from sim.llm.types import with_usage

REASK_TEMPLATE = (
    "Your answer could not be used: {error}\nAnswer again, following the required format exactly."
)
JSON_FORMAT_MARKER = "follows this JSON Schema"
JSON_FORMAT_TEMPLATE = (
    "Answer with one JSON object that " + JSON_FORMAT_MARKER + " (no other text):\n{schema}"
)

DEFAULT_TEMPERATURE = 0.7
"""Sampling temperature of LLM players unless an experiment or caller sets one."""

REPEATED_REPLY = "the re-ask repeated an earlier reply word for word; no more re-asks"

PARSED, REASKED, CHOICE, DEFAULT = "parsed", "reasked", "choice", "default"
PATHS = (PARSED, REASKED, CHOICE, DEFAULT)
"""How a decision's action was reached, best first; ``choice`` and ``default`` are fallbacks."""


@dataclass
class DecisionRecord:
    """How one LLM decision was made: the prompt, every reply, and which path produced the action.

    ``status`` (the path) is ``parsed`` (first reply parsed), ``reasked`` (a re-ask parsed),
    ``choice`` (constrained choice among valid actions) or ``default`` (the protocol's safe
    default). ``errors`` are the parser's complaints; ``failures`` the one-line reasons of failed
    model requests (``failed_requests`` of ``requests`` sent, every HTTP attempt counted).
    Tokens are billed tokens of every attempt. ``structured`` is the structured-reply mode that
    served the generate requests (``off`` when none was enforced). For a constrained choice,
    ``choice_options`` are the labels offered, ``choice_method`` how the model picked
    (``loglik``, ``answer``, ``fallback``), ``choice_raw`` its raw answer and ``choice_scores`` one
    score per option where the backend has them.
    """

    agent: str
    messages: list[dict[str, str]]
    model: str = ""
    replies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    status: str = ""
    reasks: int = 0
    choice_options: list[str] = field(default_factory=list)
    choice_method: str | None = None
    choice_raw: str | None = None
    choice_scores: list[float] = field(default_factory=list)
    action: Any = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    requests: int = 0
    failed_requests: int = 0
    failures: list[str] = field(default_factory=list)
    structured: str = "off"

    @property
    def fallback(self) -> str | None:
        """``"choice"`` or ``"default"`` when the action did not come from a parsed reply."""
        return self.status if self.status in (CHOICE, DEFAULT) else None

    def charge(self, usage: Any) -> None:
        """Add one request's cost: billed tokens, latency, requests sent and their failures."""
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.latency_s += usage.latency_s
        if not usage.cached:
            self.requests += usage.requests
            self.failed_requests += usage.failed_requests
            self.failures.extend(usage.failures)

    def fail(self, reason: str) -> None:
        """A model call that failed as a whole (no usage came back): one failed request."""
        self.requests += 1
        self.failed_requests += 1
        self.failures.append(reason)


@dataclass
class _Pending:
    observation: Any
    record: DecisionRecord
    conversation: list[dict[str, str]]
    schema: dict[str, Any] | None = None
    done: bool = False
    no_more_asks: bool = False

    def resolve(self, action: Any, status: str) -> None:
        self.record.action, self.record.status, self.done = action, status, True


@dataclass(frozen=True)
class ModelCall:
    """One batched call a decision needs: ``kind`` is ``"generate"`` or ``"choose"``."""

    model: LanguageModel
    kind: str
    requests: list[Any]


DecisionSteps = Generator[ModelCall, Any, Any]
"""A decision in progress: yields model calls, is sent their results, returns its value."""


def act_together(
    batches: Sequence[tuple[LLMPolicy, Sequence[tuple[Any, str]]]], *, share_identical: bool = True
) -> list[list[Any]]:
    """Decide for several policies' items at once; calls to the same model share one batch.

    This is how the rollout sends every pending LLM decision of every env instance and agent to
    the model together, even when each episode has its own policy objects. With
    ``share_identical``, identical requests in one batch are sent once (see `_send`).
    """
    running = [policy.decide(items) for policy, items in batches]
    results: list[Any] = [None] * len(running)
    calls: dict[int, ModelCall] = {}
    for i, steps in enumerate(running):
        _advance(steps, i, None, None, calls, results)
    while calls:
        groups: dict[tuple[int, str], list[int]] = {}
        for i, call in calls.items():
            groups.setdefault((id(call.model), call.kind), []).append(i)
        sent, calls = calls, {}
        for members in groups.values():
            first = sent[members[0]]
            merged = [r for i in members for r in sent[i].requests]
            error: LLMError | None = None
            answers: list[Any] = []
            try:
                answers = _send(first, merged, share_identical)
            except LLMError as failure:
                error = failure
            offset = 0
            for i in members:
                n = len(sent[i].requests)
                share = None if error else answers[offset : offset + n]
                offset += n
                _advance(running[i], i, share, error, calls, results)
    return results


def _send(call: ModelCall, requests: list[Any], share_identical: bool) -> list[Any]:
    """One model call for ``requests``; with ``share_identical`` each distinct request is sent
    once and its answer shared. Requests are identical when all their fields are, the seed
    ignored where it cannot matter (greedy generation, scoring a choice). A shared copy is marked
    ``cached`` with no tokens billed: only the first was sent."""
    ask = getattr(call.model, call.kind)
    if not share_identical:
        return ask(requests)
    index_of: dict[tuple[Any, ...], int] = {}
    unique: list[Any] = []
    owner = []
    for request in requests:
        key = _identity(request)
        if key not in index_of:
            index_of[key] = len(unique)
            unique.append(request)
        owner.append(index_of[key])
    if len(unique) == len(requests):
        return ask(requests)
    answers = ask(unique)
    seen: set[int] = set()
    shared = []
    for i in owner:
        answer = answers[i]
        if i in seen:
            answer = with_usage(answer, cached=True, prompt_tokens=0, completion_tokens=0)
        seen.add(i)
        shared.append(answer)
    return shared


def _identity(request: Any) -> tuple[Any, ...]:
    """What makes two requests the same request (see `_send`)."""
    messages = tuple((m["role"], m["content"]) for m in request.messages)
    if isinstance(request, ChooseRequest):
        return messages, request.options
    seed = None if request.temperature == 0 else request.seed
    schema = None if request.schema is None else json.dumps(request.schema, sort_keys=True)
    return messages, request.max_tokens, request.temperature, request.stop, seed, schema


def _advance(
    steps: DecisionSteps,
    index: int,
    answer: Any,
    error: LLMError | None,
    calls: dict[int, ModelCall],
    results: list[Any],
) -> None:
    """Resume one decision with its answer (or error); record its next call or its result."""
    try:
        if error is not None:
            calls[index] = steps.throw(error)
        elif answer is None:
            calls[index] = next(steps)
        else:
            calls[index] = steps.send(answer)
    except StopIteration as done:
        results[index] = done.value


class LLMPolicy(BatchPolicy):
    """An LLM-backed player for any environment with a `TextProtocol`.

    ``role_prompt`` is one prompt for every agent, or a mapping from agent name or role
    (``seller``) to prompt. ``model`` is a model object or a spec for `sim.llm.make_model`.
    ``max_tokens`` is the reply budget (None: the protocol's `reply_tokens` for the role).

    Players sample (``temperature`` 0.7 by default; 0 is greedy): greedy episodes of a
    deterministic game are copies of one sample. Sampling seeds derive from ``seed`` (per episode
    and agent when built by an experiment), the prompt and the attempt, so a run replays exactly
    and a decision does not depend on which other decisions share its batch.
    """

    name = "llm"

    def __init__(
        self,
        model: LanguageModel | str | Mapping[str, Any],
        role_prompt: str | Mapping[str, str],
        protocol: TextProtocol,
        *,
        max_reasks: int = 2,
        use_choice_fallback: bool = True,
        max_tokens: int | None = None,
        temperature: float = DEFAULT_TEMPERATURE,
        seed: int = 0,
        structured: bool = True,
    ) -> None:
        if max_reasks < 0:
            raise ValueError(f"max_reasks: expected an integer >= 0, got {max_reasks}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens: expected an integer >= 1 or None, got {max_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature: expected a number >= 0, got {temperature}")
        self.model = make_model(model)
        self.role_prompt = role_prompt
        self.protocol = protocol
        self.max_reasks = max_reasks
        self.use_choice_fallback = use_choice_fallback
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.structured = structured
        self.model_label = f"{self.model.backend}:{self.model.model_id}"
        self.records: list[DecisionRecord] = []

    def enforces_schemas(self) -> bool:
        """Whether replies are asked for as JSON under the protocol's schema: the policy wants
        it and the model enforces schemas (its ``structured`` mode is not ``off``)."""
        return self.structured and getattr(self.model, "structured", "off") != "off"

    def schema_for(self, observation: Any, agent: str) -> dict[str, Any] | None:
        """The reply schema sent with the request, or None (free text)."""
        if not self.enforces_schemas():
            return None
        return self.protocol.reply_schema(observation, agent)

    def prompt_for(
        self, observation: Any, agent: str, schema: Mapping[str, Any] | None = None
    ) -> list[dict[str, str]]:
        """The chat messages that open a decision: role and rules, then the observation (and the
        JSON form of the answer when the reply is structured)."""
        system = "\n\n".join(
            p for p in (self._role_text(agent), self.protocol.instructions(agent)) if p
        )
        user = self.protocol.render(observation, agent)
        if schema is not None:
            user += "\n\n" + JSON_FORMAT_TEMPLATE.format(schema=schema_summary(schema))
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _role_text(self, agent: str) -> str:
        if isinstance(self.role_prompt, str):
            return self.role_prompt
        for key in (agent, role_of(agent)):
            if key in self.role_prompt:
                return self.role_prompt[key]
        raise KeyError(f"role_prompt: no prompt for agent {agent!r} or role {role_of(agent)!r}")

    def act_batch(self, items: Sequence[tuple[Any, str]]) -> list[Any]:
        """Decide for every (observation, agent) pair, batching each model call across them."""
        return act_together([(self, items)])[0]

    def pop_records(self) -> list[DecisionRecord]:
        """Hand over the decision records gathered so far and forget them."""
        records, self.records = self.records, []
        return records

    def decide(self, items: Sequence[tuple[Any, str]]) -> DecisionSteps:
        """The decisions for ``items`` as a generator of model calls.

        It yields `ModelCall`s and is sent each call's results (or thrown its `LLMError`); it
        returns the actions. `act_together` drives many of these at once, merging the calls that
        go to the same model into one batch.
        """
        pending = []
        for observation, agent in items:
            schema = self.schema_for(observation, agent)
            messages = self.prompt_for(observation, agent, schema)
            record = DecisionRecord(agent=agent, messages=messages, model=self.model_label)
            pending.append(_Pending(observation, record, list(messages), schema))
        yield from self._ask_and_parse(pending)
        if self.use_choice_fallback:
            yield from self._choose_among_valid(pending)
        for p in pending:
            if not p.done:
                p.resolve(self.protocol.safe_default(p.observation, p.record.agent), DEFAULT)
        self.records.extend(p.record for p in pending)
        return [p.record.action for p in pending]

    def _ask_and_parse(self, pending: list[_Pending]) -> DecisionSteps:
        for attempt in range(self.max_reasks + 1):
            todo = [p for p in pending if not p.done and not p.no_more_asks]
            if not todo:
                return
            requests = [self._request(p, attempt) for p in todo]
            try:
                completions = yield ModelCall(self.model, "generate", requests)
            except LLMError as error:
                for p in todo:
                    p.record.fail(f"model error: {_one_line(error)}")
                    p.no_more_asks = True
                return
            for p, completion in zip(todo, completions, strict=True):
                self._take_reply(p, completion, attempt)

    def _request(self, p: _Pending, attempt: int) -> GenerateRequest:
        agent = p.record.agent
        return GenerateRequest(
            messages=tuple(p.conversation),
            max_tokens=self.max_tokens or self.protocol.reply_tokens(agent),
            temperature=self.temperature,
            stop=() if p.schema is not None else self.protocol.stop_sequences(agent),
            seed=derive_seed(self.seed, p.record.messages[-1]["content"], attempt),
            schema=p.schema,
        )

    def _take_reply(self, p: _Pending, completion: Any, attempt: int) -> None:
        p.record.charge(completion.usage)
        if completion.error is not None:
            p.no_more_asks = True  # the backend already retried; re-asking would not help
            return
        repeated = completion.text in p.record.replies
        p.record.replies.append(completion.text)
        p.record.structured = completion.usage.structured
        p.record.reasks = attempt
        try:
            action = self.protocol.parse_reply(completion.text, p.observation, p.record.agent)
        except ActionParseError as error:
            p.record.errors.append(str(error))
            if repeated and self.temperature == 0:  # greedy: the next re-ask would repeat too
                p.record.errors.append(REPEATED_REPLY)
                p.no_more_asks = True
                return
            p.conversation += [
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": REASK_TEMPLATE.format(error=error)},
            ]
            return
        p.resolve(action, PARSED if attempt == 0 else REASKED)

    def _choose_among_valid(self, pending: list[_Pending]) -> DecisionSteps:
        todo: list[tuple[_Pending, list[ValidAction]]] = []
        for p in pending:
            if not p.done:
                valid = self.protocol.valid_actions(p.observation, p.record.agent)
                if valid:
                    todo.append((p, valid))
        if not todo:
            return
        requests = [
            ChooseRequest(messages=tuple(p.record.messages), options=tuple(v.label for v in valid))
            for p, valid in todo
        ]
        for (p, valid), _ in zip(todo, requests, strict=True):
            p.record.choice_options = [v.label for v in valid]
        try:
            choices = yield ModelCall(self.model, "choose", requests)
        except LLMError as error:
            for p, _ in todo:
                p.record.fail(f"model error: {_one_line(error)}")
            return
        for (p, valid), choice in zip(todo, choices, strict=True):
            p.record.charge(choice.usage)
            p.record.choice_method = choice.method
            p.record.choice_raw = choice.raw or None
            p.record.choice_scores = [float(x) for x in choice.scores]
            if choice.error is not None:
                continue  # the request failed: its failure is in the usage
            if choice.method == "fallback":  # the model named no option; do not trust the draw
                p.record.errors.append("constrained choice: the model named no option")
                continue
            p.resolve(valid[choice.index].action, CHOICE)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
