"""`EncodedAEC`: a mercato AEC env with flat Box observations and grid actions for every agent.

The PettingZoo counterpart of `FlattenObservation` + `DiscreteActions`, for multi-agent RL
libraries (RLlib's ``PettingZooEnv``): each agent's Dict observation becomes its
`ObservationEncoder` vector and its action is an index into its `ActionGrid`. Rewards,
terminations and infos pass through, except ``info["action_mask"]``, which is mapped onto the
agent's grid (an int8 array over its ``Discrete(n)`` actions). With ``mask_observation`` each
observation is PettingZoo's classic ``{"observation": vector, "action_mask": that int8 mask}``
(opt-in: the default flat Box is what RLlib's default models take).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo import AECEnv
from pettingzoo.utils import BaseWrapper

from sim.rl.action_grid import ActionGrid
from sim.rl.encoders import ObservationEncoder


class EncodedAEC(BaseWrapper):
    """``env`` seen through per-agent observation encoders and action grids.

    ``grid_options`` go to every agent's `ActionGrid` (``bins``, ``ranges``, ``fixed``,
    ``choices``); ``grids_by_agent`` overrides them for named agents (e.g. different price
    ranges for buyer and seller). ``embed_text`` and ``encode`` go to the observation encoders;
    ``mask_observation`` adds the grid mask to each observation (``obs["action_mask"]``).
    """

    def __init__(
        self,
        env: AECEnv,
        *,
        embed_text: bool = False,
        encode: Callable[[Sequence[str]], np.ndarray] | None = None,
        grids_by_agent: Mapping[str, Mapping[str, Any]] | None = None,
        mask_observation: bool = False,
        **grid_options: Any,
    ) -> None:
        super().__init__(env)
        self.mask_observation = mask_observation
        overrides = dict(grids_by_agent or {})
        self._encoders = {
            agent: ObservationEncoder(
                env.observation_space(agent), embed_text=embed_text, encode=encode
            )
            for agent in env.possible_agents
        }
        self._grids = {
            agent: ActionGrid(env.action_space(agent), **(grid_options | overrides.get(agent, {})))
            for agent in env.possible_agents
        }
        self._info_cache: dict[str, tuple[dict, Any, dict]] = {}  # agent: (info, mask, ours)
        self._masked_spaces = {
            agent: Dict(
                {
                    "observation": self._encoders[agent].observation_space,
                    "action_mask": Box(0, 1, shape=(grid.n,), dtype=np.int8),
                }
            )
            for agent, grid in self._grids.items()
        }

    def observation_space(self, agent: str) -> Box | Dict:
        if self.mask_observation:
            return self._masked_spaces[agent]
        return self._encoders[agent].observation_space

    def action_space(self, agent: str) -> Discrete:
        return self._grids[agent].action_space

    def grid(self, agent: str) -> ActionGrid:
        """``agent``'s action grid (decode indices, find the index of an action, map masks)."""
        return self._grids[agent]

    @property
    def infos(self) -> dict[str, dict[str, Any]]:
        """The env's infos with each ``action_mask`` mapped onto the agent's grid.

        Each agent's latest translation is kept and reused while the env holds the same info
        dict and mask (the envs share them between steps), so reads are cheap and compare equal."""
        return {agent: self._translated(agent, info) for agent, info in self.env.infos.items()}

    def _translated(self, agent: str, info: dict[str, Any]) -> dict[str, Any]:
        if "action_mask" not in info:
            return info
        original = info["action_mask"]
        cached = self._info_cache.get(agent)
        if cached is not None and cached[0] is info and cached[1] is original:
            return cached[2]
        translated = {**info, "action_mask": self._grids[agent].mask(original).astype(np.int8)}
        self._info_cache[agent] = (info, original, translated)
        return translated

    def observe(self, agent: str) -> np.ndarray | dict[str, np.ndarray] | None:
        observation = self.env.observe(agent)
        if observation is None:
            return None
        encoded = self._encoders[agent](observation)
        if not self.mask_observation:
            return encoded
        info = self.env.infos.get(agent, {})
        mask = self._translated(agent, info).get("action_mask")
        if mask is None:
            mask = np.ones(self._grids[agent].n, dtype=np.int8)
        return {"observation": encoded, "action_mask": mask}

    def step(self, action: Any) -> None:
        if action is not None:
            action = self._grids[self.env.agent_selection](action)
        self.env.step(action)
