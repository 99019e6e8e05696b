"""What the `TextProtocol.describe` round-trip tests share: seeded episodes with scripted or
random players, a check at every decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import agents.scripted  # noqa: F401  (registers the scripted players)
from agents.registry import list_policies
from envs.core.protocol import action_mask_of

Choose = Callable[[str, Any, Any], Any]
"""A player: (agent, observation, info) -> action."""
Check = Callable[[Any, Any, str], Any]
"""A check of one decision: (action, observation, agent) -> something, counted when truthy."""


def scripted_names(env_id: str) -> list[str]:
    """The scripted players registered for ``env_id`` (not random, human or llm)."""
    names = sorted(p.name for p in list_policies(env_id) if p.envs is not None)
    assert names, env_id
    return names


def play(game: Any, seed: int, choose: Choose, check: Check) -> tuple[int, int]:
    """One episode of an AEC env, every decision checked; returns (decisions, truthy checks)."""
    decisions = counted = 0
    game.reset(seed=seed)
    for agent in game.agent_iter():
        obs, _, terminated, truncated, info = game.last()
        if terminated or truncated:
            game.step(None)
            continue
        action = choose(agent, obs, info)
        counted += bool(check(action, obs, agent))
        decisions += 1
        game.step(action)
    return decisions, counted


def play_parallel(env: Any, seed: int, choose: Choose, check: Check) -> tuple[int, int]:
    """`play` for a Parallel env whose live agents decide in turn (`deciding_agents`)."""
    decisions = counted = 0
    observations, infos = env.reset(seed=seed)
    while env.agents:
        actions = {}
        for agent in env.deciding_agents():
            actions[agent] = choose(agent, observations[agent], infos[agent])
            counted += bool(check(actions[agent], observations[agent], agent))
            decisions += 1
        observations, _, _, _, infos = env.step(actions)
    return decisions, counted


def random_chooser(game: Any, seed: int, masked_share: float = 0.5) -> Choose:
    """Random actions: sampled with the action mask ``masked_share`` of the time, from the whole
    space else (the env's own action space, reseeded for each decision)."""
    rng = np.random.default_rng(seed)

    def choose(agent: str, obs: Any, info: Any) -> Any:
        space = game.action_space(agent)
        space.seed(int(rng.integers(2**31)))
        masked = rng.random() < masked_share
        return space.sample(mask=action_mask_of(obs, info) if masked else None)

    return choose


def scripted_chooser(policies: dict[str, Any]) -> Choose:
    return lambda agent, obs, info: policies[agent].act(obs, agent)
