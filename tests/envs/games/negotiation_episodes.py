"""Play negotiation episodes in tests and keep what they ended with."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pettingzoo import AECEnv

from agents.base import Policy
from envs.games.negotiation_rules import ACCEPT, AGENTS, OFFER, OUTSIDE, REJECT


@dataclass
class Outcome:
    """How an episode ended: the final metrics, each agent's return and the actions taken."""

    metrics: dict[str, Any] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=lambda: dict.fromkeys(AGENTS, 0.0))
    actions: list[tuple[str, Any]] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False

    def offers(self, agent: str) -> list[float]:
        """The prices ``agent`` offered, in order."""
        return [
            float(action["price"][0])
            for who, action in self.actions
            if who == agent and action["decision"] == OFFER
        ]

    def decisions(self) -> list[int]:
        return [int(action["decision"]) for _, action in self.actions]


def offer(price: float, message: Any = "") -> dict[str, Any]:
    return {"decision": OFFER, "price": np.array([price], dtype=np.float64), "message": message}


def verdict(decision: int) -> dict[str, Any]:
    return {"decision": decision, "price": np.zeros(1, dtype=np.float64), "message": ""}


ACCEPT_ACTION = verdict(ACCEPT)
REJECT_ACTION = verdict(REJECT)
OUTSIDE_ACTION = verdict(OUTSIDE)


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
