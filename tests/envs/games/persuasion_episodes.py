"""Play persuasion episodes in tests and keep what they ended with."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pettingzoo import AECEnv

from agents.base import Policy
from envs.games.persuasion_rules import AGENTS, SELLER


@dataclass
class Outcome:
    """How an episode ended: the final metrics, each agent's return, Nature's qualities (as the
    seller saw them) and the actions taken."""

    metrics: dict[str, Any] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=lambda: dict.fromkeys(AGENTS, 0.0))
    qualities: list[int] = field(default_factory=list)
    actions: list[tuple[str, Any]] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False


def recommend(choice: int, message: Any = "") -> dict[str, Any]:
    return {"recommend": choice, "message": message}


def decide(choice: int, message: Any = "") -> dict[str, Any]:
    return {"decision": choice, "message": message}


def play(game: AECEnv, policies: Mapping[str, Policy], seed: int = 0) -> Outcome:
    """One episode from ``reset(seed)`` with a policy per agent."""
    return _play(game, seed, lambda agent, observation: policies[agent].act(observation, agent))


def play_actions(game: AECEnv, actions: Iterable[Any], seed: int = 0) -> Outcome:
    """One episode from ``reset(seed)`` taking ``actions`` in turn order until the game ends."""
    scripted = iter(actions)
    return _play(game, seed, lambda agent, observation: next(scripted))


def play_rounds(game: AECEnv, rounds: Iterable[tuple[int, int]], seed: int = 0) -> Outcome:
    """One episode from ``reset(seed)``: ``(recommend, decision)`` pairs, one per round."""
    actions = []
    for recommendation, decision in rounds:
        actions += [recommend(recommendation), decide(decision)]
    return play_actions(game, actions, seed)


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
        if agent == SELLER:
            outcome.qualities.append(observation["quality_high"])
        action = choose(agent, observation)
        outcome.actions.append((agent, action))
        game.step(action)
    return outcome
