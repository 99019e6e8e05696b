"""What grammar-constrained decoding costs: time per completion token with schemas on vs off.

`structured_speed` sends one batch of bargaining turns (each with its own decision schema, as the
protocols ask) with the schemas enforced, then the same prompts as free text, each row capped at
the length of its constrained reply, so that both modes decode the same number of tokens. It
reports tokens per second and seconds per completion token of each mode and their ratio
(constrained / unconstrained): the grammar's own cost (masks, matchers). Optionally the free text
also runs to ``max_tokens``, the comparison where short JSON replies carry the whole prompt cost.
A warm-up round (model warm-up, schema compilation) is not counted; the modes alternate within
rounds so that a noisy machine hurts both alike.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

from sim.llm.types import GenerateRequest, LanguageModel

ITEMS = ("bread", "cheese", "wine", "apples", "olive oil", "honey", "coffee", "a lamp")


def decision_schema(max_price: float) -> dict[str, Any]:
    """A buyer's reply: offer a price (with a message), accept, reject with a reason, or pick."""
    message = {"type": "string", "maxLength": 160}

    def closed(properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }

    return {
        "anyOf": [
            closed(
                {
                    "action": {"type": "string", "enum": ["offer"]},
                    "price": {"type": "number", "minimum": 0.0, "maximum": float(max_price)},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 10},
                    "message": message,
                }
            ),
            closed(
                {
                    "action": {"type": "string", "enum": ["accept"]},
                    "message": {"anyOf": [message, {"type": "null"}]},
                }
            ),
            closed(
                {
                    "action": {"type": "string", "enum": ["reject"]},
                    "reason": {"type": "string", "enum": ["too_high", "not_needed", "low_quality"]},
                    "message": message,
                }
            ),
            closed(
                {
                    "action": {"type": "string", "enum": ["pick"]},
                    "items": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(ITEMS)},
                        "minItems": 1,
                        "maxItems": 3,
                    },
                }
            ),
        ]
    }


SYSTEM_PROMPT = (
    "You are a buyer at a street market, bargaining for your household. Each turn you answer "
    "the seller with one JSON object: make an offer (a price up to twice the asking price, a "
    "quantity from 1 to 10 and a short message), accept (with an optional message), reject (with "
    "a reason and a message) or pick up to 3 items from the stall. Be polite and brief."
)


def bench_requests(
    batch_size: int, max_tokens: int, temperature: float = 0.0
) -> list[GenerateRequest]:
    """``batch_size`` bargaining turns, each with its own decision schema (its own price cap).

    The rows share their system prompt, so the batch's prompt is mostly computed once and the
    measurement is dominated by decoding, as it is in a long game.
    """
    requests = []
    for i in range(batch_size):
        item = ITEMS[i % len(ITEMS)]
        asking = 5 + 7 * (i % 13)
        user = (
            f"The seller offers {item} for {asking} euros and says it is the best in town. "
            "Write your reply to the seller."
        )
        requests.append(
            GenerateRequest(
                messages=(
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user},
                ),
                max_tokens=max_tokens,
                temperature=temperature,
                seed=i if temperature > 0 else None,
                schema=decision_schema(max_price=2 * asking),
            )
        )
    return requests


@dataclass(frozen=True)
class ModeSpeed:
    """One mode over all counted rounds."""

    completion_tokens: int
    seconds: float
    steps: int
    """Decoding steps (batched forward passes): per call, the longest reply."""

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0

    @property
    def s_per_token(self) -> float:
        return self.seconds / self.completion_tokens if self.completion_tokens else float("inf")

    @property
    def s_per_step(self) -> float:
        return self.seconds / self.steps if self.steps else float("inf")


@dataclass(frozen=True)
class StructuredSpeed:
    """`structured_speed`'s result.

    ``unconstrained`` decoded the same prompts without schemas, each row capped at the number of
    tokens its constrained reply took, so both modes decode the same amount: ``ratio``, the
    constrained / unconstrained seconds per completion token, is what enforcing the grammar costs
    (the target: at most 1.3). ``free`` (when measured) let the free text run to ``max_tokens``:
    its ratio also holds that short JSON replies spread the prompt's cost over fewer tokens.
    ``round_ratios`` are the per-round ratios (their spread shows the noise); ``valid`` the share
    of constrained replies that are whole JSON objects (finish reason ``stop``, parseable).
    """

    model: str
    batch_size: int
    max_tokens: int
    rounds: int
    constrained: ModeSpeed
    unconstrained: ModeSpeed
    free: ModeSpeed | None
    round_ratios: tuple[float, ...]
    valid: float

    @property
    def ratio(self) -> float:
        return self.constrained.s_per_token / self.unconstrained.s_per_token

    @property
    def free_ratio(self) -> float | None:
        return self.constrained.s_per_token / self.free.s_per_token if self.free else None

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers, for JSON output."""
        out = asdict(self)
        for mode in ("constrained", "unconstrained", "free"):
            speed: ModeSpeed | None = getattr(self, mode)
            if speed is not None:
                out[mode].update(
                    tokens_per_s=speed.tokens_per_s,
                    s_per_token=speed.s_per_token,
                    s_per_step=speed.s_per_step,
                )
        out.update(ratio=self.ratio, free_ratio=self.free_ratio, round_ratios=self.round_ratios)
        return out

    def summary(self) -> str:
        """A few lines for a terminal."""
        lines = [
            f"{self.model}: batch {self.batch_size}, max_tokens {self.max_tokens}, "
            f"{self.rounds} round(s)"
        ]
        for label, speed in (
            ("constrained", self.constrained),
            ("unconstrained, same lengths", self.unconstrained),
            (f"free text to {self.max_tokens} tokens", self.free),
        ):
            if speed is not None:
                lines.append(
                    f"  {label}: {speed.completion_tokens} tokens in {speed.seconds:.2f} s = "
                    f"{speed.tokens_per_s:.1f} tok/s ({1000 * speed.s_per_token:.1f} ms/token)"
                )
        rounds = ", ".join(f"{r:.2f}" for r in self.round_ratios)
        lines.append(
            f"  s/token constrained/unconstrained: {self.ratio:.2f}x (rounds: {rounds}); "
            f"valid JSON: {100 * self.valid:.0f}%"
        )
        if self.free_ratio is not None:
            lines.append(f"  s/token constrained/free text: {self.free_ratio:.2f}x")
        return "\n".join(lines)


def structured_speed(
    model: LanguageModel,
    batch_size: int = 32,
    max_tokens: int = 64,
    rounds: int = 3,
    temperature: float = 0.0,
    free: bool = True,
) -> StructuredSpeed:
    """Time per completion token at ``batch_size`` with schemas enforced vs not.

    ``model`` must enforce schemas (``model.structured`` not ``"off"``). An uncounted warm-up
    round (model warm-up, schema compilation) finds each row's constrained reply length; each of
    ``rounds`` rounds then runs the batch constrained and unconstrained at those lengths
    (alternating which goes first), plus, with ``free``, unconstrained up to ``max_tokens``.
    """
    if getattr(model, "structured", "off") == "off":
        raise ValueError("structured_speed: the model does not enforce schemas (structured: off)")
    if batch_size < 1 or max_tokens < 1 or rounds < 1:
        raise ValueError("structured_speed: batch_size, max_tokens and rounds must be >= 1")
    constrained = bench_requests(batch_size, max_tokens, temperature)
    warm = model.generate(constrained)
    lengths = [max(1, c.usage.completion_tokens) for c in warm]
    batches = {
        "on": constrained,
        "off": [_free(r, n) for r, n in zip(constrained, lengths, strict=True)],
        "free": [_free(r, r.max_tokens) for r in constrained] if free else [],
    }
    totals = {mode: [0, 0.0, 0] for mode in batches}
    round_ratios = []
    valid = 0
    for round_ in range(rounds):
        per_token: dict[str, float] = {}
        order = ("on", "off", "free") if round_ % 2 == 0 else ("off", "on", "free")
        for mode in order:
            if not batches[mode]:
                continue
            started = time.perf_counter()
            out = model.generate(batches[mode])
            seconds = time.perf_counter() - started
            tokens = sum(c.usage.completion_tokens for c in out)
            per_token[mode] = seconds / max(1, tokens)
            total = totals[mode]
            total[0] += tokens
            total[1] += seconds
            total[2] += max(c.usage.completion_tokens for c in out)
            if mode == "on":
                valid += sum(_is_json_object(c.text) and c.finish_reason == "stop" for c in out)
        round_ratios.append(per_token["on"] / per_token["off"])
    return StructuredSpeed(
        model=getattr(model, "model_id", type(model).__name__),
        batch_size=batch_size,
        max_tokens=max_tokens,
        rounds=rounds,
        constrained=ModeSpeed(*totals["on"]),
        unconstrained=ModeSpeed(*totals["off"]),
        free=ModeSpeed(*totals["free"]) if free else None,
        round_ratios=tuple(round_ratios),
        valid=valid / (rounds * batch_size),
    )


def _free(request: GenerateRequest, max_tokens: int) -> GenerateRequest:
    """``request`` without its schema, capped at ``max_tokens``."""
    return replace(request, schema=None, max_tokens=max_tokens)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
