"""What the GLEE two-player games (`bargaining`, `negotiation`, `persuasion`) share: the AEC
bookkeeping of two agents who finish together, parameter checks, space helpers, the offer
history, the window of it that prompts show, and the wrapper.

Each game keeps its own rules, `step` and `observe` (the hot path, free of indirection here);
`TwoPlayerGame` holds only what runs once per env or once per episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import logger
from gymnasium.spaces import Box, Space, Tuple
from gymnasium.utils import EzPickle
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from envs.core.params import Params
from envs.core.rendering import (
    ObservedState,
    acting_observation,
    check_render_mode,
    render_text,
    show,
)
from envs.core.seeding import make_rng
from envs.core.spaces import FreeText
from envs.core.wrappers import ActionSpaceCheck


def wrapped(game: AECEnv) -> AECEnv:
    """``game`` wrapped like PettingZoo's built-ins: call order enforced, and every action
    checked against the full action space (ValueError naming the agent and the space)."""
    return wrappers.OrderEnforcingWrapper(ActionSpaceCheck(game))


# Spaces and observations ------------------------------------------------------------------------


def frozen(values: Sequence[int]) -> np.ndarray:
    """A read-only int8 mask: shared between steps, so nobody may write to it."""
    array = np.array(values, dtype=np.int8)
    array.flags.writeable = False
    return array


def scalar_box(high: float, dtype: type[np.floating] = np.float64) -> Box:
    """``Box(0, high, (1,), dtype)``: one amount in an observation or action."""
    return Box(0.0, dtype(high), shape=(1,), dtype=dtype)


def scalar(value: float, dtype: type[np.floating] = np.float64) -> np.ndarray:
    """A read-only one-element array holding ``value``, as a `scalar_box` observation (shared
    between observations, so nobody may write to it)."""
    array = np.empty(1, dtype=dtype)
    array[0] = value
    array.setflags(write=False)
    return array


def offer_infos(
    agents: Sequence[str], amount_key: str, propose_mask: np.ndarray, respond_mask: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The shared info dicts of an alternating-offers game: each agent's before it proposes and
    before it responds, and both agents' at the start (the first proposes, the second waits to
    respond). ``info["action_mask"]`` is shaped like the action space, as ``Dict.sample`` takes
    it: the decision mask, and None for the amount ``amount_key`` and the message."""

    def info(mask: np.ndarray) -> dict[str, Any]:
        return {"action_mask": {"decision": mask, amount_key: None, "message": None}}

    propose = {agent: info(propose_mask) for agent in agents}
    respond = {agent: info(respond_mask) for agent in agents}
    first, second = agents
    return propose, respond, {first: propose[first], second: respond[second]}


def only_item(values: Any) -> float:
    """The one number in a sequence (the slow path for amounts given as lists)."""
    if len(values) != 1:
        raise ValueError("expected exactly one number")
    return float(values[0])


def offer_history_spaces(high: float, rounds: int, message_length: int) -> dict[str, Space[Any]]:
    """The observation spaces of `OfferHistory`: ``offers`` ``Box(0, high, (rounds,), float64)``
    and ``offer_messages``, a Tuple of ``rounds`` ``FreeText(message_length)``."""
    return {
        "offers": Box(0.0, np.float64(high), shape=(rounds,), dtype=np.float64),
        "offer_messages": Tuple(tuple(FreeText(message_length) for _ in range(rounds))),
    }


class OfferHistory:
    """The rejected offers of an alternating-offers game, kept in both players' observation
    templates: entry t-1 of ``offers`` and ``offer_messages`` is round t's offer and message.

    Each round replaces the templates' read-only ``offers`` array and ``offer_messages`` tuple
    with new ones (one small copy per round, so `observe` stays cheap) and never writes into
    them, so an observation returned earlier keeps the history it showed."""

    def __init__(self, templates: Sequence[dict[str, Any]], rounds: int) -> None:
        self._templates = list(templates)
        initial = self.initial(rounds)
        self._zeros: np.ndarray = initial["offers"]
        self._empty: tuple[str, ...] = initial["offer_messages"]
        self._offers = self._zeros
        self._messages = self._empty
        self._logged = 0  # rounds written since the last clear

    @staticmethod
    def initial(rounds: int) -> dict[str, Any]:
        """The fields of an observation before any offer is rejected (read-only)."""
        zeros = np.zeros(rounds, dtype=np.float64)
        zeros.flags.writeable = False
        return {"offers": zeros, "offer_messages": ("",) * rounds}

    def clear(self) -> None:
        """Forget every round (at reset)."""
        if not self._logged:
            return
        self._offers, self._messages = self._zeros, self._empty
        self._publish()
        self._logged = 0

    def record(self, round_: int, offer: float, message: str | None) -> None:
        """Round ``round_``'s rejected ``offer`` and its ``message`` (None: messages are off)."""
        index = round_ - 1
        offers = self._offers.copy()
        offers[index] = offer
        offers.setflags(write=False)
        self._offers = offers
        if message is not None:
            messages = list(self._messages)
            messages[index] = message
            self._messages = tuple(messages)
        self._logged = round_
        self._publish()

    def _publish(self) -> None:
        for template in self._templates:
            template["offers"] = self._offers
            template["offer_messages"] = self._messages


HISTORY_SHOWN = 20
"""Earlier rounds a game's prompt lists one by one (the latest): every round of GLEE's announced
horizons (at most 20), and a bounded prompt in longer games (GLEE's unannounced 30 and 99)."""


def shown_rounds(played: int) -> tuple[range, str]:
    """The earlier rounds a prompt lists, the latest `HISTORY_SHOWN` of ``played`` (oldest
    first), and the heading that introduces them."""
    first = max(1, played - HISTORY_SHOWN + 1)
    rounds = range(first, played + 1)
    if first == 1:
        return rounds, "Earlier rounds:"
    return rounds, f"Earlier rounds (the last {len(rounds)} of {played}):"


# The environment --------------------------------------------------------------------------------


class TwoPlayerGame(ObservedState, AECEnv, EzPickle):
    """Base of the two-player games: two agents, the first moving first, who finish together.

    A subclass sets `metadata` and `protocol`, calls ``super().__init__`` with its parameters
    (``money``, ``complete_information``, ``message_length``, ``max_cycles`` and
    ``render_mode`` among them), then builds `observation_spaces` and `action_spaces`; its
    `reset` calls `_restart`, its game end `_end_episode` (after `_pay` where it pays at the
    end), and it describes a state in `_describe` for `render`. Steps after the end go to
    `_remove_finished`. Its global ``state()`` is both players' observations (`ObservedState`):
    together they see every value, offer and message of the game.
    """

    observation_spaces: dict[str, Space[Any]]
    action_spaces: dict[str, Space[Any]]

    def __init__(
        self,
        agents: tuple[str, str],
        parameters: dict[str, Any],
        params_class: type[Params],
        *,
        rounds: int,
    ) -> None:
        """Record ``parameters`` for pickling, validate them with ``params_class`` (ValueError
        naming the first one out of range) and set what every game has. ``rounds`` is the game's
        round cap: `_last_round` is the round that ends the game (earlier under ``max_cycles``), and
        `_cut_short` whether ending there is a truncation."""
        EzPickle.__init__(self, **parameters)
        AECEnv.__init__(self)
        render_mode = parameters["render_mode"]
        self.params = params_class.checked(
            **{name: v for name, v in parameters.items() if name != "render_mode"}
        )
        check_render_mode(render_mode)
        max_cycles = parameters["max_cycles"]
        self.money = float(parameters["money"])
        self.complete_information = parameters["complete_information"]
        self.message_length = int(parameters["message_length"])
        self.max_cycles = max_cycles
        self.render_mode = parameters["render_mode"]
        rounds = int(rounds)
        self._last_round = min(rounds, max_cycles or rounds)
        self._cut_short = self._last_round < rounds
        first, second = agents
        self.possible_agents = [first, second]
        self._other = {first: second, second: first}
        self._zeros = {first: 0.0, second: 0.0}
        self._falses = {first: False, second: False}
        self._over = False
        self._reset_seed: int | None = None
        self._np_random: np.random.Generator | None = None

    def observation_space(self, agent: str) -> Space[Any]:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Space[Any]:
        return self.action_spaces[agent]

    @property
    def np_random(self) -> np.random.Generator:
        """A generator seeded by the last ``reset(seed=...)`` and continued by a reset without
        one, made on first use (games whose rules draw nothing keep their resets cheap)."""
        if self._np_random is None:
            self._np_random, _ = make_rng(self._reset_seed)
        return self._np_random

    # Episode ------------------------------------------------------------------------------------

    def _restart(self, seed: int | None, infos: dict[str, Any]) -> None:
        """The start of `reset`: note the seed, both agents live and unpaid with ``infos`` (a
        shallow copy), and the first agent to move."""
        if seed is not None:
            self._reset_seed = seed
            self._np_random = None
        first, second = self.possible_agents
        self.agents = [first, second]
        self.rewards = self._zeros.copy()
        self._cumulative_rewards = self._zeros.copy()
        self.terminations = self._falses.copy()
        self.truncations = self._falses.copy()
        self.infos = infos.copy()
        self.agent_selection = first
        self._over = False

    def _pay(self, first_reward: float, second_reward: float) -> None:
        """Pay both agents at the end: this step's rewards are their returns."""
        first, second = self.possible_agents
        rewards, cumulative = self.rewards, self._cumulative_rewards
        rewards[first] = cumulative[first] = first_reward
        rewards[second] = cumulative[second] = second_reward

    def _end_episode(self, metrics: dict[str, float | None], truncated: bool) -> None:
        """Terminate (or truncate) both agents, publish ``metrics`` to both, and select the agent
        that did not just move for the first dead step."""
        first, second = self.possible_agents
        self._over = True
        ended = self.truncations if truncated else self.terminations
        ended[first] = ended[second] = True
        self.infos[first] = {"metrics": metrics}
        self.infos[second] = {"metrics": metrics.copy()}
        self.agent_selection = self._other[self.agent_selection]

    def _remove_finished(self, agent: str, action: Any) -> None:
        """PettingZoo's dead step, without its scans: both agents finish together."""
        if action is not None:
            raise ValueError(f"{agent}: the game is over, so the only valid action is None")
        del self.rewards[agent], self._cumulative_rewards[agent], self.infos[agent]
        del self.terminations[agent], self.truncations[agent]
        self.agents.remove(agent)
        if self.agents:
            self.agent_selection = self.agents[0]
            self.rewards[self.agent_selection] = 0.0

    # Rendering ----------------------------------------------------------------------------------

    def render(self) -> str | None:
        """The state in a line, then the acting player's view (`envs.core.rendering`)."""
        if self.render_mode is None:
            logger.warn("render() called without a render_mode; pass 'ansi' or 'human'.")
            return None
        text = render_text(self._describe(), self.protocol, acting_observation(self))
        return show(self.render_mode, text)

    def _describe(self) -> str:
        """The current state in one line of text (the first line of `render`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release."""
