"""No env changes an observation after returning it: every observation of seeded episodes of
every registered env, kept as returned, equals the deep copy taken when it was returned."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pettingzoo
import pytest

import envs
from envs.core.checks import first_difference
from envs.core.protocol import action_mask_of
from envs.core.seeding import derive_seed

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SMALL: dict[str, list[dict[str, Any]]] = {
    "mercato/Bargaining-v0": [{"horizon": 12, "messages": True}, {"complete_information": False}],
    "mercato/Negotiation-v0": [{"horizon": 9, "messages": True}],
    "mercato/Persuasion-v0": [{"rounds": 6, "message_type": "text"}, {"buyer_memory": "myopic"}],
    "mercato/ManipulationTrial-v0": [
        {"min_exchanges": 1, "max_exchanges": 4, "tasks": 2, "principal": True},
        {"min_exchanges": 1, "max_exchanges": 3, "text_observations": False},
    ],
    "mercato/RecFeed-v0": [{"n_items": 100, "max_steps": 12, "history": 3}],
    "mercato/RecDialogue-v0": [{"n_items": 200, "max_turns": 5}],
    "mercato/Marketplace-v0": [{"n_customers": 3, "max_ticks": 30}],
}
"""Small settings of each env (an env missing here is played with its defaults)."""
SEEDS = range(3)
MAX_STEPS = 400


def registered() -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, id, params) for every registered mercato env and each of its settings."""
    return [
        (info.kind, info.id, params)
        for info in envs.list_envs()
        if info.id.startswith("mercato/")
        for params in SMALL.get(info.id, [{}])
    ]


def sampler(env: Any, seed: int) -> Any:
    """Seeded random actions within each agent's mask (copies of the env's action spaces)."""
    spaces: dict[str, Any] = {}

    def act(agent: str, observation: Any, info: Any) -> Any:
        if agent not in spaces:
            spaces[agent] = copy.deepcopy(env.action_space(agent))
            spaces[agent].seed(derive_seed(seed, agent))
        return spaces[agent].sample(action_mask_of(observation, info))

    return act


class Kept:
    """Every observation as returned, with a deep copy taken at that moment."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, Any, Any]] = []

    def keep(self, where: str, observation: Any) -> Any:
        self.pairs.append((where, observation, copy.deepcopy(observation)))
        return observation

    def assert_unchanged(self) -> None:
        assert self.pairs
        for where, kept, copied in self.pairs:
            difference = first_difference(copied, kept)
            assert difference is None, f"{where}: changed after it was returned: {difference}"


def play_aec(env: Any, seed: int, kept: Kept) -> None:
    act = sampler(env, seed)
    env.reset(seed=seed)
    for step, agent in enumerate(env.agent_iter(MAX_STEPS)):
        observation, _, terminated, truncated, info = env.last()
        kept.keep(f"seed {seed} step {step} last() of {agent}", observation)
        for other in env.agents:
            kept.keep(f"seed {seed} step {step} observe({other})", env.observe(other))
        env.step(None if terminated or truncated else act(agent, observation, info))


def play_parallel(env: Any, seed: int, kept: Kept) -> None:
    act = sampler(env, seed)
    observations, infos = env.reset(seed=seed)
    for step in range(MAX_STEPS):
        if not env.agents:
            break
        for agent, observation in observations.items():
            kept.keep(f"seed {seed} step {step} {agent}", observation)
        actions = {a: act(a, observations[a], infos[a]) for a in env.agents}
        observations, _, _, _, infos = env.step(actions)
    for agent, observation in observations.items():
        kept.keep(f"seed {seed} last {agent}", observation)


@pytest.mark.parametrize(("kind", "env_id", "params"), registered())
def test_returned_observations_never_change(kind: str, env_id: str, params: dict) -> None:
    env = pettingzoo.make(kind, env_id, **params)
    kept = Kept()
    for seed in SEEDS:
        (play_parallel if kind == "parallel" else play_aec)(env, seed, kept)
    kept.assert_unchanged()


def test_kept_catches_a_change() -> None:
    """The check fails when an observation is written after it was returned."""
    kept = Kept()
    observation = kept.keep("here", {"offers": np.zeros(2), "messages": ("", "")})
    kept.assert_unchanged()
    observation["offers"][1] = 0.5
    with pytest.raises(AssertionError, match=r"here: changed.*offers"):
        kept.assert_unchanged()
