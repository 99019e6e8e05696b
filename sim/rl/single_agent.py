"""Single-agent Gymnasium views of mercato's multi-agent environments, for RL libraries.

`SingleAgentEnv` makes one agent of a PettingZoo env (AEC or Parallel) the learner; every other
agent is played by a registered policy (scripted by default, any `agents.registry` name,
including ``llm`` with a model spec). ``step`` applies the learner's action, lets the others act
until the learner must decide again (or the episode ends), and returns the learner's reward over
that stretch, so an episode's return is the learner's utility. Observations and infos are copies
(the envs share read-only arrays between steps; Gymnasium's users keep what they are given). The
opponents are rebuilt at every ``reset`` with seeds derived from the reset seed, so episodes
replay exactly.

Ids ``mercato/<Env>-<Role>-v0`` are registered with Gymnasium on ``import envs``
(`sim.rl.views`); their entry point is `make_view` here, imported only when one is made.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
from pettingzoo import ParallelEnv

from envs.core.names import role_of
from envs.core.registry import make_env
from envs.core.seeding import derive_seed
from envs.core.turns import deciding_agents


class SingleAgentEnv(gymnasium.Env):
    """``learner`` of the registered env ``env_id`` as a Gymnasium env; ``opponents`` maps an
    agent name or role to a policy name or ``{policy, options}``; ``params`` go to the env."""

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium reads it from the class)

    def __init__(
        self,
        env_id: str,
        learner: str,
        opponents: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:

        import agents.scripted
        import agents.users  # noqa: F401
        from agents.registry import policy_info

        self.env: Any = make_env(env_id, params)
        if learner not in self.env.possible_agents:
            raise ValueError(f"learner must be one of {self.env.possible_agents}, got {learner!r}")
        self.env_id, self.learner = env_id, learner
        self.opponents = {
            agent: _seat(agent, dict(opponents or {}), env_id, policy_info)
            for agent in self.env.possible_agents
            if agent != learner
        }
        self.observation_space = self.env.observation_space(learner)
        self.action_space = self.env.action_space(learner)
        self._players: dict[str, Any] = {}
        self._parallel = isinstance(self.env, ParallelEnv)

    # Gymnasium API ------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        from agents.registry import make_policy

        episode_seed = int(self.np_random.integers(2**31))
        self._players = {
            agent: make_policy(name, self.env, seed=derive_seed(episode_seed, agent), **options_)
            for agent, (name, options_) in self.opponents.items()
        }
        if self._parallel:
            self._observations, self._infos = self.env.reset(seed=episode_seed, options=options)
            observation, _, _, _, info = self._advance_parallel()
            return copy.deepcopy(observation), copy.deepcopy(info)
        self.env.reset(seed=episode_seed, options=options)
        observation, _, _, _, info = self._advance_aec()
        return copy.deepcopy(observation), copy.deepcopy(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._parallel:
            result = self._step_parallel(action)
        else:
            self.env.step(action)
            result = self._advance_aec()
        observation, reward, terminated, truncated, info = result
        return copy.deepcopy(observation), reward, terminated, truncated, copy.deepcopy(info)

    def close(self) -> None:
        self.env.close()

    # AEC ----------------------------------------------------------------------------------------

    def _advance_aec(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Let the others move until the learner must act or is done; sum the learner's reward."""
        env = self.env
        reward = 0.0
        while env.agents:
            agent = env.agent_selection
            observation, agent_reward, terminated, truncated, info = env.last()
            if agent == self.learner:
                reward += float(agent_reward)
                if terminated or truncated:
                    return observation, reward, bool(terminated), bool(truncated), info
                return observation, reward, False, False, info
            if terminated or truncated:
                env.step(None)
            else:
                env.step(self._players[agent].act(observation, agent))
        # not reached: an AEC env shows every agent its final step before removing it
        raise RuntimeError(f"{self.env_id}: {self.learner} was removed without a final step")

    # Parallel -----------------------------------------------------------------------------------

    def _others(self) -> dict[str, Any]:
        env = self.env
        deciding = deciding_agents(env)
        return {
            agent: self._players[agent].act(self._observations[agent], agent)
            for agent in deciding
            if agent != self.learner and agent in self._players
        }

    def _step_parallel(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        actions = self._others()
        actions[self.learner] = action
        return self._run_parallel(actions)

    def _run_parallel(self, actions: dict[str, Any]) -> tuple[Any, float, bool, bool, dict]:
        env = self.env
        reward = 0.0
        while True:
            observations, rewards, terminations, truncations, infos = env.step(actions)
            reward += float(rewards.get(self.learner, 0.0))
            self._observations = {**self._observations, **observations}
            self._infos = {**self._infos, **infos}
            done = terminations.get(self.learner, False) or truncations.get(self.learner, False)
            if done or not env.agents:
                observation = observations.get(self.learner, self._observations.get(self.learner))
                info = infos.get(self.learner, {})
                ended = bool(terminations.get(self.learner, not env.agents))
                return observation, reward, ended, bool(truncations.get(self.learner)), info
            if self.learner in deciding_agents(env):
                return observations[self.learner], reward, False, False, infos[self.learner]
            actions = self._others()

    def _advance_parallel(self) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """After reset: let the others act until the learner decides (parallel envs)."""
        env = self.env
        if self.learner in deciding_agents(env):
            return self._observations[self.learner], 0.0, False, False, self._infos[self.learner]
        return self._run_parallel(self._others())


def _seat(
    agent: str, opponents: dict[str, Any], env_id: str, policy_info: Any
) -> tuple[str, dict[str, Any]]:
    """An opponent's (policy name, options): by agent name, else by role."""
    role = role_of(agent)
    entry = opponents.get(agent, opponents.get(role))
    if entry is None:
        raise ValueError(f"opponents: no policy for {agent!r} (by name or role {role!r})")
    if isinstance(entry, str):
        name, options = entry, {}
    else:
        name, options = entry["policy"], entry.get("options", {})
    policy_info(name, env_id)  # a clear error for an unknown policy
    return name, dict(options)


def make_view(
    env_id: str,
    learner: str,
    opponents: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    **more_params: Any,
) -> SingleAgentEnv:
    """The Gymnasium entry point: extra keyword arguments are env parameters."""
    return SingleAgentEnv(env_id, learner, opponents, {**dict(params or {}), **more_params})
