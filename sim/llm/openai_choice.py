"""`choose` over a chat endpoint: a real constrained choice, scored where the server can.

The options are listed under the ids ``"1".."N"`` (one token each on common tokenizers for
N <= 9) in an order shuffled per request from its seed (``random.Random(seed)``, seed None -> 0),
so a model that always picks the first listed option is not read as preferring any option. The
answer is constrained to the ids: a JSON Schema enum ``{"choice": id}`` in ``json_schema`` and
``llamacpp`` modes, vLLM's ``guided_choice`` in ``guided`` mode; in ``off`` mode the model is
asked for the id and only a reply that is exactly one id (optionally quoted, optionally with a
period) counts. The chosen id maps back to the option's original index.

Scores (where the body has logprobs): for each option, the log-probability the server reports
for its id's token at the position where the answer's id is emitted, in the request's ORIGINAL
option order. Every option is scored by one token, its id, so an option's length does not enter
its score (the local backend's log-likelihoods are averaged per token for the same reason).
Several tokens naming the same id (``"2"``, ``" 2"``) are summed (logsumexp).
An option whose id is not among the position's ``top_logprobs`` gets an upper bound of its
log-probability: ``min(smallest listed logprob, log(probability mass not listed))``. No scores
(an empty tuple) when the id position cannot be found, or when ids of more than one character
are not single tokens (with 10+ options on tokenizers that split digits the first digit would
stand for several ids).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.llm.types import ChooseRequest

STRUCTURED_MODES = ("json_schema", "guided", "llamacpp", "off")

_QUOTES = "\"'`"
_AROUND_ID = " \t\r\n\"'`.,{}"
_CHOICE_KEY = re.compile(r'"choice"\s*:\s*"?\s*')


WRAP_KEY = "reply"
"""The property a non-object schema is wrapped in for strict mode (whose root must be an object)."""


def needs_wrap(mode: str, schema: Mapping[str, Any]) -> bool:
    """OpenAI's strict mode wants an object at the root; a variant schema (``anyOf``) is sent as
    ``{"reply": <schema>}`` and the reply unwrapped again (`unwrap_reply`)."""
    return mode == "json_schema" and schema.get("type") != "object"


def wrapped(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {WRAP_KEY: dict(schema)},
        "required": [WRAP_KEY],
        "additionalProperties": False,
    }


def unwrap_reply(text: str) -> str:
    """The inner reply of a wrapped one (the text as it came when it is not wrapped JSON)."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and set(data) == {WRAP_KEY}:
        return json.dumps(data[WRAP_KEY], ensure_ascii=False)
    return text


def structured_fields(mode: str, schema: Mapping[str, Any], name: str = "reply") -> dict[str, Any]:
    """The request fields that constrain a reply to ``schema`` in ``mode``."""
    if mode == "json_schema":
        root = wrapped(schema) if needs_wrap(mode, schema) else dict(schema)
        form = {"name": name, "strict": True, "schema": root}
        return {"response_format": {"type": "json_schema", "json_schema": form}}
    if mode == "guided":
        return {"guided_json": dict(schema)}
    if mode == "llamacpp":
        return {"json_schema": dict(schema)}
    return {}


def choice_schema(ids: tuple[str, ...]) -> dict[str, Any]:
    """The JSON Schema of a choice reply: ``{"choice": <one of ids>}``."""
    return {
        "type": "object",
        "properties": {"choice": {"type": "string", "enum": list(ids)}},
        "required": ["choice"],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class ChoicePlan:
    """How one `ChooseRequest` is asked: ``order[k]`` is the original index of the option
    listed under ``ids[k]``."""

    request: ChooseRequest
    mode: str
    order: tuple[int, ...]
    ids: tuple[str, ...]

    @classmethod
    def build(cls, request: ChooseRequest, mode: str) -> ChoicePlan:
        order = list(range(len(request.options)))
        random.Random(request.seed if request.seed is not None else 0).shuffle(order)
        ids = tuple(str(k + 1) for k in range(len(order)))
        return cls(request, mode, tuple(order), ids)

    @property
    def json_reply(self) -> bool:
        return self.mode in ("json_schema", "llamacpp")

    def listing(self) -> list[str]:
        """The options in the order shown (what the model saw)."""
        return [self.request.options[i] for i in self.order]

    def instruction(self) -> str:
        ids = ", ".join(self.ids) if len(self.ids) <= 12 else f"{self.ids[0]}-{self.ids[-1]}"
        if self.json_reply:
            return (
                'Answer with the JSON object {"choice": "<number>"}, where <number> is the '
                f"number of your choice ({ids})."
            )
        return f"Answer with only the number of your choice ({ids}), nothing else."

    def messages(self) -> list[dict[str, str]]:
        """The request's messages plus the question listing the options.

        When the conversation already ends with a user turn the question is added to that turn,
        so roles keep alternating (some chat templates reject two user turns in a row).
        """
        listing = "\n".join(
            f"{id_}. {' '.join(option.split())}"
            for id_, option in zip(self.ids, self.listing(), strict=True)
        )
        question = f"Choose one of these options:\n{listing}\n{self.instruction()}"
        messages = [dict(m) for m in self.request.messages]
        if messages[-1]["role"] == "user":
            messages[-1]["content"] = f"{messages[-1]['content']}\n\n{question}"
        else:
            messages.append({"role": "user", "content": question})
        return messages

    def reask(self, messages: list[dict[str, str]], answer: str) -> list[dict[str, str]]:
        """``messages`` followed by the unusable answer and a correction."""
        correction = f"That is not one of the option numbers. {self.instruction()}"
        return [
            *messages,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": correction},
        ]

    def constraint(self) -> dict[str, Any]:
        """The request fields that constrain the answer to the ids in this mode."""
        if self.mode == "guided":
            return {"guided_choice": list(self.ids)}
        return structured_fields(self.mode, choice_schema(self.ids), name="choice")

    def parse(self, text: str) -> int | None:
        """The listed position ``k`` the answer names, or None when it is not exactly one id:
        ``{"choice": "2"}``, ``2``, ``"2"`` or ``2.`` name id 2; anything else names none."""
        said = text.strip()
        if said.startswith("{"):
            try:
                obj = json.loads(said)
            except ValueError:
                return None
            if not isinstance(obj, dict) or set(obj) != {"choice"}:
                return None
            value = obj["choice"]
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            return self.ids.index(value) if isinstance(value, str) and value in self.ids else None
        said = _strip_period(said)
        if len(said) >= 2 and said[0] == said[-1] and said[0] in _QUOTES:
            said = _strip_period(said[1:-1].strip())
        return self.ids.index(said) if said in self.ids else None

    def fallback_index(self) -> int:
        """The seeded draw used when no usable answer came back (not the model's choice)."""
        seed = self.request.seed if self.request.seed is not None else 0
        return random.Random(seed).randrange(len(self.request.options))

    def scores(self, logprobs: list[dict[str, Any]] | None, text: str, k: int) -> tuple[float, ...]:
        """Per-option scores in the original option order (see the module doc), or ``()``."""
        if not logprobs:
            return ()
        chosen = self.ids[k]
        found = _id_position(logprobs, text, chosen)
        if found is None:
            return ()
        entry, prefix = found
        candidates: dict[str, float] = {}
        for alt in [entry, *(entry.get("top_logprobs") or [])]:
            if not isinstance(alt, Mapping):
                continue
            token, logprob = alt.get("token"), alt.get("logprob")
            if isinstance(token, str) and isinstance(logprob, int | float) and token:
                candidates.setdefault(token, float(logprob))
        if not candidates:
            return ()
        per_id: dict[str, list[float]] = {}
        for token, logprob in candidates.items():
            name = token[len(prefix) :] if prefix and token.startswith(prefix) else token
            name = name.strip(_AROUND_ID)
            if name in self.ids:
                per_id.setdefault(name, []).append(logprob)
        if chosen not in per_id:
            return ()
        if len(self.ids) >= 10 and not any(len(name) > 1 for name in per_id):
            return ()  # multi-character ids may be split over tokens: the scores would be unclear
        listed = list(candidates.values())
        rest = 1.0 - sum(math.exp(lp) for lp in listed)
        floor = min(min(listed), math.log(max(rest, 1e-30)))
        scores = [floor] * len(self.ids)
        for position, id_ in enumerate(self.ids):
            if id_ in per_id:
                scores[self.order[position]] = _logsumexp(per_id[id_])
        return tuple(scores)


def _strip_period(text: str) -> str:
    return text[:-1].rstrip() if text.endswith(".") else text


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def _id_position(
    logprobs: list[dict[str, Any]], text: str, chosen: str
) -> tuple[dict[str, Any], str] | None:
    """The logprobs entry of the token where ``chosen`` is emitted in ``text``, and the part of
    that token before the id; None when it cannot be found."""
    match = _CHOICE_KEY.search(text)
    offset = text.find(chosen, match.end() if match else 0)
    tokens = [entry.get("token") if isinstance(entry, Mapping) else None for entry in logprobs]
    if offset >= 0 and all(isinstance(t, str) for t in tokens) and "".join(tokens) == text:
        start = 0
        for entry, token in zip(logprobs, tokens, strict=True):
            end = start + len(token)
            if start <= offset < end:
                return entry, token[: offset - start]
            start = end
    for entry, token in zip(logprobs, tokens, strict=True):  # token texts not the reply text
        if isinstance(token, str) and token.strip(_AROUND_ID) == chosen:
            return entry, ""
    return None
