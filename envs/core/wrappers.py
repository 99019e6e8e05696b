"""AEC wrappers that hold environments to mercato's contract."""

from __future__ import annotations

from typing import Any

from pettingzoo.utils.wrappers import BaseWrapper


class ActionSpaceCheck(BaseWrapper):
    """Raises ValueError naming the agent and the space when an action is outside the acting
    agent's action space (the DESIGN contract; PettingZoo's `AssertOutOfBoundsWrapper` raises a
    bare AssertionError, and not at all under ``python -O``). Done agents must step with None."""

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        done = self.terminations[agent] or self.truncations[agent]
        if not (done and action is None):
            space = self.action_space(agent)
            if not space.contains(action):
                raise ValueError(f"{agent}: action {action!r} is not in {space}")
        super().step(action)

    def __str__(self) -> str:
        return str(self.env)
