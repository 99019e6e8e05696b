"""What turn-taking AEC environments share: read-only arrays and the step frame.

`TurnTakingEnv.step` does PettingZoo's bookkeeping around one move (a finished agent's
``None`` step, clearing and accumulating rewards) and hands the move to ``_move``, so an env
writes only its rules. `read_only` makes arrays that are shared between observations safe from
callers. (Parameters are checked by `envs.core.params`.)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium.spaces import Space
from pettingzoo import AECEnv

from envs.core.rendering import acting_observation, check_render_mode, render_text, show


@runtime_checkable
class PartlyDeciding(Protocol):
    """A Parallel env where only some live agents decide at a step (the marketplace: whose turn
    it is); the others play `idle_action`. The rollout asks only `deciding_agents` for actions."""

    idle_action: Any

    def deciding_agents(self) -> list[str]:
        """The live agents that decide at this step."""
        ...


def deciding_agents(env: Any) -> list[str]:
    """The agents that decide at this step: `PartlyDeciding.deciding_agents`, else every live
    agent."""
    return env.deciding_agents() if _partly_deciding(env) else list(env.agents)


def idle_action(env: Any) -> Any:
    """The action of a live agent that does not decide at this step (None: every agent decides)."""
    return env.idle_action if _partly_deciding(env) else None


_PARTLY_DECIDING: dict[type, bool] = {}


def _partly_deciding(env: Any) -> bool:
    """`isinstance(env, PartlyDeciding)`, checked once per class (runtime protocol checks are
    slow, and this runs every step)."""
    kind = type(env)
    known = _PARTLY_DECIDING.get(kind)
    if known is None:
        known = _PARTLY_DECIDING[kind] = isinstance(env, PartlyDeciding)
    return known


def read_only(values: Any, dtype: Any = np.int64) -> np.ndarray:
    """An array of ``values`` that nobody may write to (shared between steps and agents)."""
    array = np.array(values, dtype=dtype)
    array.flags.writeable = False
    return array


class TurnTakingEnv(AECEnv):
    """An AEC env whose subclass implements one move, ``_move(agent, action)``, and builds its
    per-agent ``observation_spaces`` and ``action_spaces`` once."""

    observation_spaces: dict[str, Space[Any]]
    action_spaces: dict[str, Space[Any]]

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode)

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._clear_rewards()
        self._cumulative_rewards[agent] = 0.0
        self._move(agent, action)
        self._accumulate_rewards()

    def observation_space(self, agent: str) -> Space[Any]:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Space[Any]:
        return self.action_spaces[agent]

    def _move(self, agent: str, action: Any) -> None:
        raise NotImplementedError

    def _render(self, summary: str) -> str | None:
        """``summary`` and the acting agent's text view in the render mode
        (`envs.core.rendering`): returned for ``ansi``, printed for ``human``."""
        protocol = self.protocol  # type: ignore[attr-defined]
        return show(self.render_mode, render_text(summary, protocol, acting_observation(self)))
