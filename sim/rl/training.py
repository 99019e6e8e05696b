"""RL recipes: mercato envs as standard RL libraries want them, and returns to compare against.

- `flat_view`: a single-agent Gymnasium view (`mercato/<Env>-<Role>-v0`) with a flat Box
  observation and a ``Discrete(n)`` action grid: what Stable-Baselines3's PPO/DQN take
  (``mask_observation=True``: the grid mask in the observation too, ``obs["action_mask"]``).
- `flat_pettingzoo` / `rllib_env` / `ppo_config`: a multi-agent env for RLlib with one policy per
  role. Turn-taking (AEC) envs go through RLlib's ``PettingZooEnv``, which hands the observation
  only to the agent about to act; PettingZoo's AEC-to-parallel conversion refuses them (a
  turn-taking game is not parallelisable). The one Parallel env, the marketplace, has structured
  actions (item lists, recipients, free text) that no discrete grid covers: give it an action
  model of your own and RLlib's ``ParallelPettingZooEnv``.
- `mean_return` / `policy_return`: the average episode return of any actor, or of a registered
  (e.g. scripted) policy in the learner's seat, over seeded episodes: the baselines a learning
  curve is read against.

RLlib and Stable-Baselines3 are imported only when used (``pip install 'mercato[rl]'``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium
import numpy as np

from envs.core.names import role_of
from envs.core.registry import make_env
from envs.core.seeding import derive_seed
from sim.rl.action_grid import DiscreteActions, MaskedObservation
from sim.rl.encoders import FlattenObservation
from sim.rl.pettingzoo_encoders import EncodedAEC


def flat_view(
    view_id: str,
    *,
    bins: int = 11,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    fixed: Mapping[str, Any] | None = None,
    choices: Mapping[str, list[int]] | None = None,
    embed_text: bool = False,
    mask_observation: bool = False,
    **make_kwargs: Any,
) -> gymnasium.Env:
    """``gymnasium.make(view_id, **make_kwargs)`` with flat observations (`FlattenObservation`)
    and grid actions (`DiscreteActions`; ``bins``, ``ranges``, ``fixed``, ``choices`` as in
    `ActionGrid`); ``mask_observation`` makes each observation ``{"observation": flat,
    "action_mask": grid mask}`` (`MaskedObservation`, PettingZoo's classic form)."""

    env = FlattenObservation(gymnasium.make(view_id, **make_kwargs), embed_text=embed_text)
    env = DiscreteActions(env, bins=bins, ranges=ranges, fixed=fixed, choices=choices)
    return MaskedObservation(env) if mask_observation else env


def flat_pettingzoo(
    env_id: str, *, params: Mapping[str, Any] | None = None, **encoder_options: Any
) -> EncodedAEC:
    """The turn-taking env ``env_id`` with every agent's observations flat and actions gridded."""
    return EncodedAEC(make_env(env_id, params, kind="aec"), **encoder_options)


def rllib_env(
    env_id: str, *, params: Mapping[str, Any] | None = None, **encoder_options: Any
) -> Any:
    """``env_id`` as an RLlib ``MultiAgentEnv`` (``PettingZooEnv`` over `flat_pettingzoo`)."""
    from ray.rllib.env.wrappers.pettingzoo_env import PettingZooEnv

    return PettingZooEnv(flat_pettingzoo(env_id, params=params, **encoder_options))


def role_of_agent(agent_id: str, *_: Any, **__: Any) -> str:
    """RLlib's policy mapping: agent ``bob_0`` is played by the module of role ``bob``."""
    return role_of(agent_id)


def ppo_config(
    env_id: str,
    *,
    params: Mapping[str, Any] | None = None,
    hidden: tuple[int, ...] = (64, 64),
    seed: int = 0,
    **encoder_options: Any,
) -> Any:
    """An RLlib ``PPOConfig`` for ``env_id`` with one policy (RLModule) per role.

    The env is registered with Ray Tune as ``mercato:<env_id>``; tune the returned config
    (``.training(...)``, ``.env_runners(...)``) before ``.build_algo()``.
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    probe = flat_pettingzoo(env_id, params=params, **encoder_options)
    roles = sorted({role_of_agent(agent) for agent in probe.possible_agents})
    name = f"mercato:{env_id}"
    register_env(name, lambda _: rllib_env(env_id, params=params, **encoder_options))
    return (
        PPOConfig()
        .environment(name)
        .multi_agent(policies=set(roles), policy_mapping_fn=role_of_agent)
        .rl_module(model_config={"fcnet_hiddens": list(hidden)})
        .debugging(seed=seed)
    )


def mean_return(
    env: gymnasium.Env, act: Callable[[Any], Any], *, episodes: int = 100, seed: int = 0
) -> float:
    """The mean episode return of ``act`` (observation -> action) over seeds ``seed``, ``seed+1``,
    ... (one reset seed per episode, so every player meets the same episodes)."""
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(act(observation))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def policy_return(
    view_id: str,
    policy: str,
    *,
    episodes: int = 100,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    **make_kwargs: Any,
) -> float:
    """The mean return of the registered policy ``policy`` (e.g. ``bargaining/equilibrium``, or
    ``random``) playing the learner's seat of ``view_id``, over the same seeds as `mean_return`."""
    import agents.scripted
    import agents.users  # noqa: F401
    import envs  # noqa: F401
    from agents.registry import make_policy

    env = gymnasium.make(view_id, **make_kwargs)
    view = env.unwrapped
    returns = []
    for episode in range(episodes):
        player = make_policy(
            policy, view.env, seed=derive_seed(seed, episode), **dict(options or {})
        )
        returns.append(mean_return(env, functools.partial(player.act, agent=view.learner),
                                   episodes=1, seed=seed + episode))  # fmt: skip
    return float(np.mean(returns))
