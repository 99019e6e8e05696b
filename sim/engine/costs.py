"""What an episode's model calls cost: per-model tallies of each LLM decision (path, requests,
failures, billed tokens), prices per 1k tokens, and costs per the unit the env's spec names
(a market's purchases)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from agents.llm import DecisionRecord
from envs.core.registry import spec_of
from sim.engine.records import LLMTally


def charge(tallies: dict[str, LLMTally], key: str, decision: DecisionRecord) -> None:
    """Tally one LLM decision under model key ``key``: path, requests, failures, tokens."""
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = LLMTally()
    tally.decisions += 1
    setattr(tally, decision.status, getattr(tally, decision.status) + 1)
    tally.requests += decision.requests
    tally.failed_requests += decision.failed_requests
    tally.prompt_tokens += decision.prompt_tokens
    tally.completion_tokens += decision.completion_tokens


def priced(tallies: dict[str, LLMTally], prices: Mapping[str, tuple[float, float]]) -> None:
    """Set each tally's cost from the experiment's prices per 1k tokens (where given)."""
    for key, tally in tallies.items():
        if key in prices:
            prompt, completion = prices[key]
            tally.cost = (tally.prompt_tokens * prompt + tally.completion_tokens * completion) / 1e3


@functools.cache
def cost_unit(env_id: str) -> tuple[str, str] | None:
    """(count metric, unit) that the env's spec reports model costs per, e.g. ("purchases",
    "purchase"); None when it has none or is not registered here."""
    try:
        return spec_of(env_id).cost_per if env_id else None
    except ValueError:
        return None


def cost_metrics(env_id: str, metrics: Mapping[str, Any], total: LLMTally) -> dict[str, Any]:
    """Model calls and tokens per unit of the env's `cost_per` metric (e.g. per purchase);
    empty when the env names none or the episode did not report it."""
    per = cost_unit(env_id)
    count = metrics.get(per[0]) if per else None
    if per is None or count is None:
        return {}
    tokens = total.prompt_tokens + total.completion_tokens
    return {
        f"llm_calls_per_{per[1]}": total.requests / count if count else None,
        f"llm_tokens_per_{per[1]}": tokens / count if count else None,
    }
