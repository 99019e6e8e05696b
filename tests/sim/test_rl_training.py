"""Training against mercato with Stable-Baselines3 and RLlib (small CPU budgets).

The SB3 test shows learning: PPO as Bob (the responder) in Rubinstein bargaining against the
subgame-perfect Alice must reach at least 99% of the return of Bob's equilibrium play (the best
reply to her), beat a random Bob by a wide margin and beat its own untrained policy (which,
deterministic, already lands near 95%), measured on 200 held-out seeds. Six PPO updates (6,144
steps) reach the best reply; they take about 8 s on one core. The RLlib test runs PPO with one
policy per role on both seats of the same game for a few iterations on local Ray.

Neither leaves files behind: SB3 gets a logger that writes nowhere (its default makes a
``SB3-<time>`` folder in the system temp dir on every ``learn()``), and RLlib's per-algorithm
log folder (``~/ray_results/<time>...`` by default) goes to the test's ``tmp_path``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sim.rl.training import flat_view, mean_return, policy_return, ppo_config, role_of_agent

VIEW = "mercato/Bargaining-Bob-v0"
EVAL = {"episodes": 200, "seed": 10_000}
STEPS = 6 * 4 * 256  # six updates of four envs' 256-step rollouts


def deterministic_return(model, venv) -> float:
    """Bob's mean return on the held-out seeds when he plays the model's most likely action."""

    def act(observation):
        return int(model.predict(venv.normalize_obs(observation[None]), deterministic=True)[0][0])

    return mean_return(flat_view(VIEW), act, **EVAL)


@pytest.fixture(scope="module")
def trained_bob() -> tuple[float, float]:
    """(untrained return, trained return) of SB3's PPO as Bob."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(1)
    venv = VecNormalize(make_vec_env(lambda: flat_view(VIEW), n_envs=4, seed=0), gamma=1.0)
    model = PPO(
        "MlpPolicy", venv, n_steps=256, batch_size=256, gamma=1.0, learning_rate=3e-3,
        ent_coef=0.01, seed=0, device="cpu",
    )  # fmt: skip
    model.set_logger(Logger(folder=None, output_formats=[]))  # no SB3-<time> folder in /tmp
    venv.training = False
    untrained = deterministic_return(model, venv)
    venv.training = True
    model.learn(STEPS)
    venv.training = False
    return untrained, deterministic_return(model, venv)


@pytest.mark.slow
def test_sb3_ppo_learns_bobs_best_reply(trained_bob):
    untrained, learned = trained_bob
    best = policy_return(VIEW, "bargaining/equilibrium", **EVAL)
    random = policy_return(VIEW, "random", **EVAL)
    assert best - random > 1000  # the task leaves room to learn
    assert learned > untrained, (learned, untrained)  # the return comes from training
    assert learned >= 0.99 * best, (learned, best, random)
    assert learned >= random + 0.9 * (best - random)


def test_the_random_baseline_is_what_a_random_grid_policy_earns():
    rng = np.random.default_rng(0)
    env = flat_view(VIEW)
    grid_random = mean_return(env, lambda _: int(rng.integers(env.action_space.n)), **EVAL)
    assert grid_random < 0.8 * policy_return(VIEW, "bargaining/equilibrium", **EVAL)


@pytest.mark.ray
def test_rllib_ppo_trains_one_policy_per_role(ray_local, tmp_path, monkeypatch):
    # An Algorithm outside Tune makes its log folder with mkdtemp() in ~/ray_results.
    monkeypatch.setattr("ray.tune.trainable.trainable.DEFAULT_STORAGE_PATH", str(tmp_path))
    config = (
        ppo_config("mercato/Bargaining-v0", hidden=(32, 32))
        .env_runners(num_env_runners=0, rollout_fragment_length=64)
        .training(train_batch_size_per_learner=256, minibatch_size=128, num_epochs=2)
    )
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(3)]
    finally:
        algo.stop()
    runners = results[-1]["env_runners"]
    assert runners["num_episodes"] > 0
    assert set(runners["agent_episode_returns_mean"]) == {"alice_0", "bob_0"}
    assert set(results[-1]["learners"]) >= {"alice", "bob"}
    total = sum(runners["agent_episode_returns_mean"].values())
    assert 0 < total <= 10_000  # the two shares of the money, discounted


def test_agents_map_to_their_roles():
    assert role_of_agent("bob_0") == "bob"
    assert role_of_agent("customer_12", None) == "customer"
    assert role_of_agent("solo") == "solo"
