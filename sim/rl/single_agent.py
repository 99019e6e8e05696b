"""Single-agent Gymnasium views of mercato's multi-agent environments, for RL libraries.

`SingleAgentEnv` makes one agent of a PettingZoo env (AEC or Parallel) the learner; every other
agent is played by a registered policy (scripted by default, any `agents.registry` name,
including ``llm`` with a model spec), given as an experiment's roster gives it
(`sim.rl.opponents`). ``step`` applies the learner's action, lets the others act
until the learner must decide again (or the episode ends), and returns the learner's reward over
that stretch, so an episode's return is the learner's utility. Observations and infos are copies
(the envs share read-only arrays between steps; Gymnasium's users keep what they are given). The
opponents are rebuilt at every ``reset`` with seeds derived from the reset seed, so episodes
replay exactly. ``render_mode="ansi"`` returns, and ``"human"`` prints, the learner's current
observation as its text protocol renders it (what an LLM in its seat would read).

Ids ``mercato/<Env>-<Role>-v0`` are registered with Gymnasium on ``import envs``
(`sim.rl.views`); their entry point is `make_view` here, imported only when one is made.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
from pettingzoo import ParallelEnv

from envs.core.protocol import protocol_of
from envs.core.registry import make_env
from envs.core.rendering import RENDER_MODES, check_render_mode, show
from envs.core.turns import deciding_agents


class SingleAgentEnv(gymnasium.Env):
    """``learner`` of the registered env ``env_id`` as a Gymnasium env; ``opponents`` maps an
    agent name or role to a roster entry (a policy name or ``{policy, model, role_prompt,
    options}``, `sim.rl.opponents`); ``params`` go to the env."""

    metadata = {"render_modes": list(RENDER_MODES)}  # noqa: RUF012 (gymnasium reads the class's)

    def __init__(
        self,
        env_id: str,
        learner: str,
        opponents: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:

        import agents.scripted
        import agents.users  # noqa: F401
        from sim.rl.opponents import plan_opponents

        self.render_mode = check_render_mode(render_mode)
        self.env: Any = make_env(env_id, params)
        if learner not in self.env.possible_agents:
            raise ValueError(f"learner must be one of {self.env.possible_agents}, got {learner!r}")
        self.env_id, self.learner = env_id, learner
        self._models: dict[str, Any] = {}  # model spec -> the model, built once
        self.opponents = plan_opponents(
            opponents, env_id, self.env.possible_agents, learner, self._models
        )
        self.observation_space = self.env.observation_space(learner)
        self.action_space = self.env.action_space(learner)
        self._players: dict[str, Any] = {}
        self._parallel = isinstance(self.env, ParallelEnv)
        self._observation: Any = None

    # Gymnasium API ------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(2**31))
        self._players = {
            agent: plan.make(self.env, episode_seed, agent)
            for agent, plan in self.opponents.items()
        }
        if self._parallel:
            self._observations, self._infos = self.env.reset(seed=episode_seed, options=options)
            observation, _, _, _, info = self._advance_parallel()
        else:
            self.env.reset(seed=episode_seed, options=options)
            observation, _, _, _, info = self._advance_aec()
        self._observation = observation
        if self.render_mode == "human":
            self.render()
        return copy.deepcopy(observation), copy.deepcopy(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._parallel:
            result = self._step_parallel(action)
        else:
            self.env.step(action)
            result = self._advance_aec()
        observation, reward, terminated, truncated, info = result
        self._observation = observation
        if self.render_mode == "human":
            self.render()
        return copy.deepcopy(observation), reward, terminated, truncated, copy.deepcopy(info)

    def render(self) -> str | None:
        """The learner's current observation as its text protocol renders it: returned
        (``ansi``) or printed (``human``); None without a render mode or before ``reset``."""
        if self.render_mode is None or self._observation is None:
            return None
        text = protocol_of(self.env).render(self._observation, self.learner)
        return show(self.render_mode, text)

    def close(self) -> None:
        self.env.close()
        for model in self._models.values():
            close = getattr(model, "close", None)
            if close is not None:
                close()
        self._models.clear()

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


def make_view(
    env_id: str,
    learner: str,
    opponents: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    render_mode: str | None = None,
    **more_params: Any,
) -> SingleAgentEnv:
    """The Gymnasium entry point: extra keyword arguments are env parameters."""
    merged = {**dict(params or {}), **more_params}
    return SingleAgentEnv(env_id, learner, opponents, merged, render_mode=render_mode)
