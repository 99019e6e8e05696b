"""The single-agent Gymnasium views: every id passes `check_env`, plays whole episodes, replays
by seed, accepts other opponents, and vectorises (Text observations included)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the views)
from envs.core.checks import first_difference
from sim.rl.views import view_ids

IDS = view_ids()


def rollout(env, seed: int, steps: int = 300):
    observation, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace, total = [observation], 0.0
    for _ in range(steps):
        mask = info.get("action_mask") if isinstance(info, dict) else None
        observation, reward, terminated, truncated, info = env.step(env.action_space.sample(mask))
        trace.append(observation)
        total += reward
        if terminated or truncated:
            return trace, total, True
    return trace, total, False


@pytest.mark.parametrize("view_id", IDS)
def test_each_view_passes_check_env_and_plays_whole_episodes(view_id):
    env = gymnasium.make(view_id)
    check_env(env.unwrapped, skip_render_check=True)
    first, total, ended = rollout(env, seed=3)
    assert ended and np.isfinite(total)
    again, total_again, _ = rollout(env, seed=3)
    assert first_difference(first, again) is None and total == total_again


def test_returns_are_the_learners_utility():
    env = gymnasium.make("mercato/Bargaining-Bob-v0", params={"money": 100.0})
    env.reset(seed=0)
    inner = env.unwrapped
    accept = {"decision": 1, "alice_share": np.array([0.0]), "message": ""}
    _, reward, terminated, _, info = env.step(accept)  # Bob accepts the equilibrium offer
    assert terminated and reward == pytest.approx(100.0 * (1 - info["metrics"]["alice_share"]))
    assert inner.learner == "bob_0"


def test_other_opponents_and_bad_names():
    env = gymnasium.make("mercato/Bargaining-Bob-v0", opponents={"alice": "random"})
    env.reset(seed=1)
    with pytest.raises(ValueError, match="policy 'nobody' is unknown"):
        gymnasium.make("mercato/Bargaining-Bob-v0", opponents={"alice": "nobody"})
    with pytest.raises(ValueError, match="learner must be one of"):
        from sim.rl.single_agent import SingleAgentEnv

        SingleAgentEnv("mercato/Bargaining-v0", "carol_0", {})


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_views_vectorise_with_text_observations(mode):
    kwargs = {"shared_memory": False} if mode == "async" else {}
    vec = gymnasium.make_vec(
        "mercato/ManipulationTrial-Assistant-v0", num_envs=2, vectorization_mode=mode,
        vector_kwargs=kwargs,
    )  # fmt: skip
    observations, _ = vec.reset(seed=[0, 1])
    texts = observations["text"]
    assert len(texts) == 2 and all(isinstance(t, str) and "Options:" in t for t in texts)
    for _ in range(3):
        observations, rewards, *_ = vec.step(vec.action_space.sample())
        assert rewards.shape == (2,)
        assert all("Options:" in t for t in observations["text"])
    vec.close()
