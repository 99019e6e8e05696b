"""Repeated matching pennies as a PettingZoo Parallel env (test-only): how the engine plays
Parallel environments."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo import ParallelEnv

MATCHER, MISMATCHER = "matcher_0", "mismatcher_0"


class PenniesEnv(ParallelEnv):
    """Each round both show heads (0) or tails (1); the matcher wins 1 on a match, else the
    mismatcher does. The episode ends after ``rounds`` rounds; the final info has ``metrics``."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "pennies_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(self, rounds: int = 3, max_cycles: int | None = None) -> None:
        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        self.rounds = rounds
        self.render_mode = None
        self.possible_agents = [MATCHER, MISMATCHER]
        space = Dict({"last": Box(-1, 1, (2,), np.int64), "round": Discrete(rounds + 1)})
        self._observation_spaces = {a: space for a in self.possible_agents}
        self._action_spaces = {a: Discrete(2) for a in self.possible_agents}

    def observation_space(self, agent: str) -> Any:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> Any:
        return self._action_spaces[agent]

    def _observe(self, last: tuple[int, int]) -> dict[str, Any]:
        obs = {"last": np.array(last, dtype=np.int64), "round": self.round}
        return {a: obs for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.agents = list(self.possible_agents)
        self.round = 0
        self.matches = 0
        return self._observe((-1, -1)), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        a, b = int(actions[MATCHER]), int(actions[MISMATCHER])
        self.round += 1
        match = a == b
        self.matches += match
        rewards = {MATCHER: 1.0 if match else -1.0, MISMATCHER: -1.0 if match else 1.0}
        done = self.round >= self.rounds
        observations = self._observe((a, b))
        infos = {agent: {} for agent in self.agents}
        if done:
            for info in infos.values():
                info["metrics"] = {"match_rate": self.matches / self.rounds}
        terminations = {agent: done for agent in self.agents}
        truncations = {agent: False for agent in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos


def parallel_env(**kwargs: Any) -> PenniesEnv:
    return PenniesEnv(**kwargs)
