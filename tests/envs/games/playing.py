"""Play one game episode in tests and keep what it ended with (shared by the three games)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pettingzoo import AECEnv

from agents.base import Policy


@dataclass
class Outcome:
    """How an episode ended: the final metrics, each agent's return and the actions taken."""

    metrics: dict[str, Any] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    actions: list[tuple[str, Any]] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False

    def see(self, agent: str, observation: Any) -> None:
        """Called before each live decision; games' outcomes override it to note what matters."""


def play(
    game: AECEnv, policies: Mapping[str, Policy], seed: int = 0, outcome_type: type = Outcome
) -> Any:
    """One episode from ``reset(seed)`` with a policy per agent."""
    return _play(game, seed, lambda agent, obs: policies[agent].act(obs, agent), outcome_type())


def play_actions(
    game: AECEnv, actions: Iterable[Any], seed: int = 0, outcome_type: type = Outcome
) -> Any:
    """One episode from ``reset(seed)`` taking ``actions`` in turn order until the game ends."""
    scripted = iter(actions)
    return _play(game, seed, lambda agent, obs: next(scripted), outcome_type())


def _play(game: AECEnv, seed: int, choose: Callable[[str, Any], Any], outcome: Any) -> Any:
    game.reset(seed=seed)
    for agent in game.agent_iter():
        observation, reward, terminated, truncated, info = game.last()
        outcome.returns[agent] += reward
        if terminated or truncated:
            outcome.metrics = outcome.metrics or dict(info["metrics"])
            outcome.terminated, outcome.truncated = terminated, truncated
            game.step(None)
            continue
        outcome.see(agent, observation)
        action = choose(agent, observation)
        outcome.actions.append((agent, action))
        game.step(action)
    return outcome
