"""A tiny ultimatum game: the reference env the core checks, policies and protocol are tested on.

Test-only: ``import envs`` does not register it; tests register it under a test id themselves.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import logger
from gymnasium.spaces import Box, Dict, Discrete
from gymnasium.utils import EzPickle
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from envs.core.seeding import make_rng
from envs.core.spaces import FreeText, normalize_text

PROPOSER = "proposer_0"
RESPONDER = "responder_0"
MAX_OFFER = 10
MESSAGE_LENGTH = 200
REJECT = 0
ACCEPT = 1


def env(**kwargs: Any) -> AECEnv:
    """The ultimatum game wrapped like PettingZoo's built-ins (bounds and call order asserted)."""
    game = raw_env(**kwargs)
    game = wrappers.AssertOutOfBoundsWrapper(game)
    return wrappers.OrderEnforcingWrapper(game)


class raw_env(AECEnv, EzPickle):
    """A one-shot ultimatum game over a pie of random size.

    ## Description
    A proposer offers a responder a share of a pie, in tenths, with an optional message. The
    responder accepts (the pie is split as offered) or rejects (both get nothing). Subgame-perfect
    play offers the smallest share and accepts anything; people reject low offers.

    ## Agents
    `proposer_0` moves first, then `responder_0`.

    ## Observation space
    `Dict` with `pie` (`Box(0, max_pie, (1,), float32)`: the pie's size), `offer`
    (`Discrete(11)`: the tenths offered to the responder, 0 before an offer) and `last_message`
    (`FreeText(200)`: the proposer's message, `""` before it). The responder's observation also has
    `action_mask` (`int8`, `[reject, accept]`; both always allowed).

    ## Action space
    `proposer_0`: `Dict({"offer": Discrete(11), "message": FreeText(200)})`. Its mask is in
    `info["action_mask"]` as a dict with the same keys (`None` for the message), because
    `Dict.sample` takes only a dict mask. `responder_0`: `Discrete(2)`, 0 rejects and 1 accepts.
    An action outside the space raises ValueError naming the agent and the space.

    ## Rewards
    Accepted: the responder gets `pie * offer / 10`, the proposer `pie * (10 - offer) / 10`.
    Rejected: 0 for both. Rewards arrive at the end.

    ## Episode end
    Both agents terminate after the responder's decision (one cycle). There is no truncation.

    ## Parameters
    * `min_pie`, `max_pie` (ints, `1 <= min_pie <= max_pie`, default 10 and 100): range of the
      pie size, drawn uniformly at reset from the reset seed.
    * `max_cycles` (int >= 1, default 1): accepted for PettingZoo's registry; the game always
      ends within one cycle.
    * `render_mode`: `None` or `"ansi"`.

    ## Metrics
    Final `info` of both agents: `pie`, `offer`, `accepted`.

    ## Version history
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "ultimatum_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": False,
    }

    def __init__(
        self,
        min_pie: int = 10,
        max_pie: int = 100,
        max_cycles: int = 1,
        render_mode: str | None = None,
    ) -> None:
        EzPickle.__init__(
            self, min_pie=min_pie, max_pie=max_pie, max_cycles=max_cycles, render_mode=render_mode
        )
        super().__init__()
        if not 1 <= min_pie <= max_pie:
            raise ValueError(
                f"min_pie and max_pie must satisfy 1 <= min_pie <= max_pie, got "
                f"min_pie={min_pie}, max_pie={max_pie}"
            )
        if max_cycles < 1:
            raise ValueError(f"max_cycles must be >= 1, got {max_cycles}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.min_pie = min_pie
        self.max_pie = max_pie
        self.max_cycles = max_cycles
        self.render_mode = render_mode
        self.possible_agents = [PROPOSER, RESPONDER]
        public = {
            "pie": Box(0.0, float(max_pie), shape=(1,), dtype=np.float32),
            "offer": Discrete(MAX_OFFER + 1),
            "last_message": FreeText(MESSAGE_LENGTH),
        }
        mask = Box(0, 1, shape=(2,), dtype=np.int8)
        self._observation_spaces = {
            PROPOSER: Dict(public),
            RESPONDER: Dict({**public, "action_mask": mask}),
        }
        self._action_spaces = {
            PROPOSER: Dict({"offer": Discrete(MAX_OFFER + 1), "message": FreeText(MESSAGE_LENGTH)}),
            RESPONDER: Discrete(2),
        }
        self.np_random: np.random.Generator | None = None
        self.np_random_seed: int | None = None

    def observation_space(self, agent: str) -> Dict:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> Dict | Discrete:
        return self._action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if seed is not None or self.np_random is None:
            self.np_random, self.np_random_seed = make_rng(seed)
        self._pie = float(self.np_random.integers(self.min_pie, self.max_pie + 1))
        self._offer = 0
        self._message = ""
        self._accepted: bool | None = None
        self.agents = list(self.possible_agents)
        self.rewards = {agent: 0.0 for agent in self.agents}
        self._cumulative_rewards = {agent: 0.0 for agent in self.agents}
        self.terminations = {agent: False for agent in self.agents}
        self.truncations = {agent: False for agent in self.agents}
        self.infos = {PROPOSER: {"action_mask": _proposer_mask()}, RESPONDER: {}}
        self._skip_agent_selection = None
        self.agent_selection = PROPOSER

    def observe(self, agent: str) -> dict[str, Any]:
        observation = {
            "pie": np.array([self._pie], dtype=np.float32),
            "offer": np.int64(self._offer),
            "last_message": self._message,
        }
        if agent == RESPONDER:
            observation["action_mask"] = np.ones(2, dtype=np.int8)
        return observation

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        space = self.action_space(agent)
        if not space.contains(action):
            raise ValueError(f"{agent}: action {action!r} is not in {space}")
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        if agent == PROPOSER:
            self._offer = int(action["offer"])
            self._message = normalize_text(action["message"], MESSAGE_LENGTH)
            self.infos[PROPOSER] = {}
            self.agent_selection = RESPONDER
        else:
            self._settle(accepted=int(action) == ACCEPT)
        self._accumulate_rewards()

    def _settle(self, accepted: bool) -> None:
        self._accepted = accepted
        if accepted:
            self.rewards[RESPONDER] = self._pie * self._offer / MAX_OFFER
            self.rewards[PROPOSER] = self._pie * (MAX_OFFER - self._offer) / MAX_OFFER
        outcome = {"pie": self._pie, "offer": self._offer, "accepted": accepted}
        for agent in self.agents:
            self.terminations[agent] = True
            self.infos[agent] = dict(outcome)
        self.agent_selection = PROPOSER

    def render(self) -> str | None:
        if self.render_mode is None:
            logger.warn("render() called without a render_mode; pass render_mode='ansi'.")
            return None
        verdict = {None: "pending", True: "accepted", False: "rejected"}[self._accepted]
        return (
            f"pie {self._pie:g}; offer {self._offer}/{MAX_OFFER}; "
            f"message {self._message!r}; {verdict}"
        )

    def close(self) -> None:
        """Nothing to release."""


def _proposer_mask() -> dict[str, Any]:
    """Every offer is allowed; the message has no mask. Shaped like the proposer's action space."""
    return {"offer": np.ones(MAX_OFFER + 1, dtype=np.int8), "message": None}
