"""Play marketplace episodes with scripted players, for the tests."""

from __future__ import annotations

from typing import Any

import agents.scripted  # noqa: F401  (registers the players)
from agents.registry import make_policy
from envs.marketplace.env import MarketplaceEnv


def play(
    env: MarketplaceEnv,
    *,
    seed: int = 0,
    customer: str = "marketplace/careful",
    business: str = "marketplace/honest",
    options: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """One episode; returns the final metrics and every agent's return."""
    observations, _ = env.reset(seed=seed)
    policies = {
        agent: make_policy(
            customer if agent.startswith("customer") else business, env, seed=i,
            **(options or {}).get(agent.rpartition("_")[0], {}),
        )
        for i, agent in enumerate(env.possible_agents)
    }  # fmt: skip
    returns = dict.fromkeys(env.possible_agents, 0.0)
    infos: dict[str, Any] = {}
    while env.agents:
        deciding = env.deciding_agents()
        actions = {a: policies[a].act(observations[a], a) for a in deciding}
        observations, rewards, _, _, infos = env.step(actions)
        for agent, reward in rewards.items():
            returns[agent] += reward
    metrics = next(info["metrics"] for info in infos.values() if "metrics" in info)
    return metrics, returns
