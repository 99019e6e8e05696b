"""`mercato/Nim-v0`: two players take 1 to ``max_take`` tokens in turn (AEC).

Observation (both players): ``tokens`` left and ``action_mask`` over takes 1..max_take. Action:
``Discrete(max_take)``, action k takes k + 1 tokens. Reward: +1 to whoever takes the last
token, -1 to the other, at the end; ``info["metrics"]`` then holds `nim.rules.metrics`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo.utils import wrappers

from envs.core.params import keyword_signature
from envs.core.turns import TurnTakingEnv
from nim import rules
from nim.params import NimParams
from nim.protocol import NimProtocol

FIRST, SECOND = "first_0", "second_0"


def env(**params: Any) -> Any:
    """The Nim env wrapped like PettingZoo's built-ins (call order enforced)."""
    return wrappers.OrderEnforcingWrapper(raw_env(**params))


class raw_env(TurnTakingEnv):
    metadata: ClassVar[dict[str, Any]] = {
        "name": "nim_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": False,
    }
    protocol = NimProtocol()

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        super().__init__(render_mode)
        self.params = NimParams.checked(**params)
        take = self.params.max_take
        self.possible_agents = [FIRST, SECOND]
        space = Dict(
            {
                "tokens": Box(0, self.params.tokens, shape=(1,), dtype=np.int64),
                "action_mask": Box(0, 1, shape=(take,), dtype=np.int8),
            }
        )
        self.observation_spaces = dict.fromkeys(self.possible_agents, space)
        self.action_spaces = {agent: Discrete(take) for agent in self.possible_agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.agents = list(self.possible_agents)
        self.tokens = self.params.tokens
        self.turns = 0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: {} for agent in self.agents}
        self.agent_selection = FIRST

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        mask = np.arange(1, self.params.max_take + 1) <= self.tokens
        return {
            "tokens": np.array([self.tokens], dtype=np.int64),
            "action_mask": mask.astype(np.int8),
        }

    def _move(self, agent: str, action: Any) -> None:
        take = int(action) + 1
        if not 1 <= take <= min(self.params.max_take, self.tokens):
            raise ValueError(f"{agent}: may take 1 to {self.tokens} tokens, got {take}")
        self.tokens -= take
        self.turns += 1
        other = SECOND if agent == FIRST else FIRST
        if self.tokens == 0:
            self.rewards[agent], self.rewards[other] = 1.0, -1.0
            final = rules.metrics(
                agent == FIRST, self.turns, self.params.tokens, self.params.max_take
            )
            for name in self.agents:
                self.terminations[name] = True
                self.infos[name] = {"metrics": dict(final)}
        self.agent_selection = other

    def render(self) -> str | None:
        return f"{self.tokens} tokens left, {self.agent_selection} to move"


raw_env.__init__.__signature__ = keyword_signature(NimParams, with_self=True)  # type: ignore[attr-defined]
env.__signature__ = keyword_signature(NimParams, with_self=False)  # type: ignore[attr-defined]
