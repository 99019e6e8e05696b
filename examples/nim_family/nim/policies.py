"""Nim's scripted player, registered by the package as ``nim/optimal``."""

from __future__ import annotations

from typing import Any

from agents.base import BatchPolicy
from nim.rules import optimal_take


class OptimalNim(BatchPolicy):
    """Leaves a multiple of max_take + 1 tokens whenever it can (deterministic, stateless)."""

    name = "nim/optimal"
    reusable = True

    def act(self, observation: Any, agent: str) -> Any:
        tokens = int(observation["tokens"][0])
        max_take = len(observation["action_mask"])
        return min(optimal_take(tokens, max_take), tokens) - 1


def optimal_player(env: Any, *, seed: int) -> OptimalNim:
    """The registry's factory: ``factory(env, *, seed, **options) -> Policy``."""
    return OptimalNim()
