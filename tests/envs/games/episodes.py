"""Play bargaining episodes in tests and keep what they ended with."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pettingzoo import AECEnv

from agents.base import Policy
from envs.games.bargaining_rules import ACCEPT, AGENTS, OFFER, REJECT


@dataclass
class Outcome:
    """How an episode ended: the final metrics, each agent's return and the actions taken."""

    metrics: dict[str, Any] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=lambda: dict.fromkeys(AGENTS, 0.0))
    actions: list[tuple[str, Any]] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False


def offer(alice_share: float, message: Any = "") -> dict[str, Any]:
    return {
        "decision": OFFER,
        "alice_share": np.array([alice_share], dtype=np.float64),
        "message": message,
    }


def verdict(decision: int) -> dict[str, Any]:
    return {"decision": decision, "alice_share": np.zeros(1, dtype=np.float64), "message": ""}


ACCEPT_ACTION = verdict(ACCEPT)
REJECT_ACTION = verdict(REJECT)


def play(game: AECEnv, policies: Mapping[str, Policy], seed: int = 0) -> Outcome:
    """One episode from ``reset(seed)`` with a policy per agent."""
    return _play(game, seed, lambda agent, observation: policies[agent].act(observation, agent))


def play_actions(game: AECEnv, actions: Iterable[Any], seed: int = 0) -> Outcome:
    """One episode from ``reset(seed)`` taking ``actions`` in turn order until the game ends."""
    scripted = iter(actions)
    return _play(game, seed, lambda agent, observation: next(scripted))


def _play(game: AECEnv, seed: int, choose: Callable[[str, Any], Any]) -> Outcome:
    game.reset(seed=seed)
    outcome = Outcome()
    for agent in game.agent_iter():
        observation, reward, terminated, truncated, info = game.last()
        outcome.returns[agent] += reward
        if terminated or truncated:
            outcome.metrics = outcome.metrics or dict(info["metrics"])
            outcome.terminated, outcome.truncated = terminated, truncated
            game.step(None)
            continue
        action = choose(agent, observation)
        outcome.actions.append((agent, action))
        game.step(action)
    return outcome
