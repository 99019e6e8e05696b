"""`mercato/Persuasion-v0`: repeated cheap-talk persuasion as GLEE plays it (AEC)."""

from __future__ import annotations

import operator
from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo import AECEnv

from envs.core.spaces import FreeText, normalize_text
from envs.games.params import PersuasionParams
from envs.games.persuasion_protocol import PersuasionProtocol
from envs.games.persuasion_rules import (
    AGENTS,
    BUYER,
    SELLER,
    UNKNOWN,
    YES,
    commitment_sale_rate,
    episode_metrics,
)
from envs.games.two_player import (
    TwoPlayerGame,
    frozen,
    scalar,
    scalar_box,
    wrapped,
)


def env(**kwargs: Any) -> AECEnv:
    """The persuasion game wrapped like PettingZoo's built-ins: call order enforced, and every
    action checked against the full action space (ValueError naming the agent and the space)."""
    return wrapped(raw_env(**kwargs))


DECIDE_MASK = frozen([1, 1])
NO_DECISION = frozen([0, 0])
_HISTORY_KEYS = ("history_recommended", "history_bought", "history_quality")


def unknown_history(rounds: int) -> np.ndarray:
    """The history before any round is played, one row per `_HISTORY_KEYS` entry: read-only,
    every entry `UNKNOWN`."""
    history = np.full((len(_HISTORY_KEYS), rounds), UNKNOWN, dtype=np.int8)
    history.flags.writeable = False
    return history


class raw_env(TwoPlayerGame):
    """An informed seller recommends products, round after round, to a buyer who learns the truth
    only afterwards: can cheap talk persuade?

    ## Description
    Repeated cheap talk with the rules, parameters and metrics of GLEE's persuasion family
    (Shapira et al., arXiv 2410.05254): in each of `rounds` rounds Nature makes the product high
    quality with probability `p_high` (drawn from the env's generator, seeded by `reset`); the
    seller sees the quality and recommends buying or not (with a free-text message when
    `message_type` is "text"); the buyer buys at price `money` or passes; then the buyer learns
    the quality. The buyer values a high-quality product at `value_high`·money and a low-quality
    one at `value_low`·money. The benchmark is Kamenica and Gentzkow's (2011) committed seller,
    who recommends every high item and a low one with probability q = min{p(v-1)/(1-p), 1} and
    sells with probability min(1, pv) (games.md §6.4; `envs.games.persuasion_rules`).

    ## Agents
    `seller_0` (informed) recommends, then `buyer_0` decides, once per round; exactly one agent
    acts at a time.

    ## Observation space
    `Dict`, one per role (see `observation_space`). Both roles:

    * `role` `Discrete(2)`: 0 for the seller, 1 for the buyer.
    * `round` `Discrete(rounds, start=1)`: the current round; `rounds` `Discrete(rounds + 1)`:
      the announced horizon.
    * `money` `Box(0, money, (1,), float32)`: the price.
    * `p_high` `Box(0, 1, (1,), float32)`: the prior probability of high quality (public).
    * `value_high` `Box(0, value_high, (1,), float32)`: the buyer's value of a high-quality item
      per unit of price; the seller sees 0 under incomplete information, when `value_known`
      (`Discrete(2)`, seller only) is 0. `value_low` `Box(0, 1, (1,), float32)`: the buyer's
      value of a low-quality item (public; 0 in all GLEE games).
    * `text_messages` `Discrete(2)`: 1 when the seller's recommendation carries free text.
    * `sold`, `high_sold`, `played` `Discrete(rounds + 1)`: items sold, high-quality items sold
      and rounds completed so far.
    * `long_memory` `Discrete(2)`: 1 for a long-lived buyer, 0 for a myopic one (GLEE told both
      players).
    * `value_known` `Discrete(2)`: whether the seller knows the buyer's values (GLEE told both).
    * The history `history_recommended`, `history_bought`, `history_quality` `Box(-1, 1,
      (rounds,), int8)`: entry t-1 for round t, the recommendation, the purchase and the quality
      (0/1), -1 for rounds not yet played. The seller's is always filled (GLEE's seller keeps one
      chat for the whole game, whichever the buyer); the buyer's only when it is long-lived: a
      myopic buyer (GLEE's fresh chat each round) sees only the counts `sold` and `high_sold`,
      and its history stays -1 throughout.

    Seller only: `quality_high` `Discrete(2)` (this round's quality), `last_bought`
    `Discrete(3, start=-1)` (the buyer's last decision, -1 before the first),
    `buyer_message` `FreeText(message_length)` (the buyer's last message, text mode only) and
    `recommend_mask` `Box(0, 1, (2,), int8)`.

    Buyer only: `recommendation` `Discrete(2)` (this round's, 1 = buy; 0 until the seller has
    spoken), `message` `FreeText(message_length)` (this round's text, "" in binary mode) and
    `decision_mask` `Box(0, 1, (2,), int8)`. Past messages are not part of any observation.

    Masks are `[no, yes]`, all 0 when it is not the agent's turn. Dict action spaces take their
    mask as a dict, so `info["action_mask"]` is `{"recommend": <int8 mask>, "message": None}`
    (seller) or `{"decision": ..., "message": None}` (buyer), the mask of the agent's next
    decision; the observation has no `action_mask` key. Each `observe` returns a new dict whose
    arrays are read-only and shared with other observations: the env replaces them rather than
    writing into them, so a returned observation never changes. Masks and info dicts are shared
    between steps: read them, don't write them. Discrete values are Python ints.

    ## Action space
    Seller: `Dict({"recommend": Discrete(2), "message": FreeText(message_length)})`, 1
    recommending the product. Buyer: `Dict({"decision": Discrete(2), "message":
    FreeText(message_length)})`, 1 buying it. Messages are delivered to the other player,
    normalised (NFC, at most `message_length` characters), when `message_type` is "text" and
    ignored in binary mode; the recommendation counts in both modes (in text mode it is the gist
    of the seller's message). An action outside the space raises ValueError naming the agent and
    the space: `env()` checks the whole space, the raw env (stepped by the engine) only the
    discrete field, which is cheap.

    ## Rewards
    Paid after every round, in money units (M = `money`, the price): the seller gets M per sale;
    a buying buyer gets M(v-1) for a high-quality and M(c-1) for a low-quality item; passing
    pays 0. Over an episode of T rounds the returns are T·M times `self_gain_seller` and
    `self_gain_buyer` (GLEE's seller "earns 1 per sale": its self-gain is sales/T).

    ## Episode end
    Both agents terminate after the buyer's decision in round `rounds`. With `max_cycles` below
    `rounds`, both are truncated after round `max_cycles` (each agent acts once per round), and
    the metrics cover the rounds played.

    ## Parameters
    Keyword-only; a value out of range raises ValueError naming the parameter.

    * `money` (float > 0, default 10_000): the price M (GLEE: 1e2, 1e4, 1e6).
    * `p_high` (float in [0, 1], default 0.5): the probability p of high quality.
    * `value_high` (float > 1, default 1.25): v, the buyer's value of a high-quality item per
      unit of price; at v <= 1 buying never pays, so there is nothing to persuade.
    * `value_low` (float in [0, 1), default 0.0): c, the value of a low-quality item.
    * `rounds` (int >= 1, default 20): T, announced to both players.
    * `message_type` ("binary" or "text", default "binary").
    * `buyer_memory` ("long" or "myopic", default "long"): whether the buyer sees the history.
    * `complete_information` (bool, default True): whether the seller knows v.
    * `message_length` (int >= 1, default 500): the longest message kept.
    * `max_cycles` (int >= 1 or None, default None): truncate after this many rounds.
    * `render_mode` (None, "ansi" or "human").

    ## Metrics
    `info["metrics"]` of both agents at the end, a flat dict of floats (None where undefined),
    with the paper's definitions, not GLEE code's: with T rounds played, n of them high quality,
    k high-quality items sold and r low-quality items not sold: `sales`, `high_rounds` (n),
    `sale_rate` and `self_gain_seller` (sales/T), `self_gain_buyer` [k(v-1) + (T-n-r)(c-1)]/T
    (in units of M; GLEE's code uses r for T-n-r and T = 20), `efficiency` k/n (None when
    n = 0), `fairness` r/(T-n) (None when n = T), `commitment_sale_rate` min(1, p(v-c)/(1-c)),
    the committed seller's P(sale) (min(1, pv) at c = 0), and `regret_sale_rate`
    |sale_rate - commitment_sale_rate|.

    Undefined metrics are None rather than NaN because PettingZoo's `seed_test` compares infos
    with `==` and NaN != NaN; tables store None as null (NaN in pandas).

    ## Version history
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "persuasion_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
    }
    protocol: PersuasionProtocol = PersuasionProtocol()

    def __init__(
        self,
        *,
        money: float = 10_000.0,
        p_high: float = 0.5,
        value_high: float = 1.25,
        value_low: float = 0.0,
        rounds: int = 20,
        message_type: str = "binary",
        buyer_memory: str = "long",
        complete_information: bool = True,
        message_length: int = 500,
        max_cycles: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        parameters = {
            "money": money,
            "p_high": p_high,
            "value_high": value_high,
            "value_low": value_low,
            "rounds": rounds,
            "message_type": message_type,
            "buyer_memory": buyer_memory,
            "complete_information": complete_information,
            "message_length": message_length,
            "max_cycles": max_cycles,
            "render_mode": render_mode,
        }
        super().__init__(AGENTS, parameters, PersuasionParams, rounds=rounds)
        self.p_high = float(p_high)
        self.value_high = float(value_high)
        self.value_low = float(value_low)
        self.rounds = int(rounds)
        self.message_type = message_type
        self.buyer_memory = buyer_memory
        if self.message_length != self.protocol.message_length:
            self.protocol = PersuasionProtocol(message_length=self.message_length)
        self.commitment_sale_rate = commitment_sale_rate(
            self.p_high, self.value_high, self.value_low
        )
        self._text = message_type == "text"
        self._long_memory = buyer_memory == "long"
        self._gain_high = self.money * (self.value_high - 1.0)
        self._gain_low = self.money * (self.value_low - 1.0)

        self.observation_spaces = {
            SELLER: self._seller_observation_space(),
            BUYER: self._buyer_observation_space(),
        }
        self.action_spaces = {
            SELLER: Dict({"recommend": Discrete(2), "message": FreeText(self.message_length)}),
            BUYER: Dict({"decision": Discrete(2), "message": FreeText(self.message_length)}),
        }
        self._observations = {
            SELLER: self._initial_seller_observation(),
            BUYER: self._initial_buyer_observation(),
        }
        recorders = AGENTS if self._long_memory else (SELLER,)  # who sees the history
        self._recorders = [self._observations[agent] for agent in recorders]
        self._no_history = unknown_history(self.rounds)
        self._history = self._no_history
        self._play_infos = {
            SELLER: {"action_mask": {"recommend": DECIDE_MASK, "message": None}},
            BUYER: {"action_mask": {"decision": DECIDE_MASK, "message": None}},
        }
        self.reset()

    # Spaces -------------------------------------------------------------------------------------

    def _common_spaces(self) -> dict[str, Any]:
        counts = Discrete(self.rounds + 1)
        history = {key: Box(-1, 1, shape=(self.rounds,), dtype=np.int8) for key in _HISTORY_KEYS}
        return {
            "role": Discrete(2),
            "round": Discrete(self.rounds, start=1),
            "rounds": Discrete(self.rounds + 1),
            "money": scalar_box(self.money, np.float32),
            "p_high": scalar_box(1.0, np.float32),
            "value_high": scalar_box(self.value_high, np.float32),
            "value_low": scalar_box(1.0, np.float32),
            "text_messages": Discrete(2),
            "sold": counts,
            "high_sold": counts,
            "played": counts,
            "long_memory": Discrete(2),
            "value_known": Discrete(2),
            **history,
        }

    def _seller_observation_space(self) -> Dict:
        return Dict(
            {
                **self._common_spaces(),
                "quality_high": Discrete(2),
                "last_bought": Discrete(3, start=UNKNOWN),
                "buyer_message": FreeText(self.message_length),
                "recommend_mask": Box(0, 1, shape=(2,), dtype=np.int8),
            }
        )

    def _buyer_observation_space(self) -> Dict:
        return Dict(
            {
                **self._common_spaces(),
                "recommendation": Discrete(2),
                "message": FreeText(self.message_length),
                "decision_mask": Box(0, 1, shape=(2,), dtype=np.int8),
            }
        )

    def _common_observation(self, role: int, value_high: float) -> dict[str, Any]:
        return {
            "role": role,
            "round": 1,
            "rounds": self.rounds,
            "money": scalar(self.money, np.float32),
            "p_high": scalar(self.p_high, np.float32),
            "value_high": scalar(value_high, np.float32),
            "value_low": scalar(self.value_low, np.float32),
            "text_messages": int(self._text),
            "sold": 0,
            "high_sold": 0,
            "played": 0,
            "long_memory": int(self._long_memory),
            "value_known": int(self.complete_information),
            **dict(zip(_HISTORY_KEYS, unknown_history(self.rounds), strict=True)),
        }

    def _initial_seller_observation(self) -> dict[str, Any]:
        known = self.complete_information
        return {
            **self._common_observation(0, self.value_high if known else 0.0),
            "quality_high": 0,
            "last_bought": UNKNOWN,
            "buyer_message": "",
            "recommend_mask": NO_DECISION,
        }

    def _initial_buyer_observation(self) -> dict[str, Any]:
        return {
            **self._common_observation(1, self.value_high),
            "recommendation": 0,
            "message": "",
            "decision_mask": NO_DECISION,
        }

    # Episode ------------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._restart(seed, self._play_infos)
        # Nature's draws for every round at once from `np_random` (seeded by `reset`, continued
        # by a reset without a seed): one call, the same draws as one per round.
        draws = self.np_random.random(self._last_round) < self.p_high
        self._qualities: list[int] = draws.astype(np.int8).tolist()
        self._round = 1
        self._recommendation = 0
        self._message = ""
        self._buyer_message = ""
        self._last_bought = UNKNOWN
        self._sold = self._high_sold = self._high_rounds = 0
        self._publish_history(self._no_history)

    def observe(self, agent: str) -> dict[str, Any]:
        """``agent``'s observation: a new dict of read-only arrays (see the class docstring)."""
        observation = self._observations[agent].copy()
        observation["round"] = self._round
        observation["sold"] = self._sold
        observation["high_sold"] = self._high_sold
        observation["played"] = self._round - 1 + self._over
        mask = NO_DECISION if self._over or agent != self.agent_selection else DECIDE_MASK
        if agent == SELLER:
            observation["quality_high"] = self._qualities[self._round - 1]
            observation["last_bought"] = self._last_bought
            observation["recommend_mask"] = mask
            if self._text:
                observation["buyer_message"] = self._buyer_message
        else:
            observation["recommendation"] = self._recommendation
            observation["decision_mask"] = mask
            if self._text:
                observation["message"] = self._message
        return observation

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self._over:
            self._remove_finished(agent, action)
            return
        key = "recommend" if agent == SELLER else "decision"
        try:
            choice = operator.index(action[key])
            valid = 0 <= choice <= YES
        except (TypeError, KeyError, IndexError, ValueError):
            valid = False
        if not valid:
            raise ValueError(f"{agent}: action {action!r} is not in {self.action_spaces[agent]}")
        rewards = self.rewards
        if agent == SELLER:
            self._recommendation = choice
            if self._text:
                self._message = normalize_text(action.get("message", ""), self.message_length)
            self._cumulative_rewards[SELLER] = rewards[SELLER] = rewards[BUYER] = 0.0
            self.agent_selection = BUYER
            return
        self._settle_round(choice == YES, action)

    def _settle_round(self, bought: bool, action: Any) -> None:
        """The buyer has decided: pay both, reveal the quality, then start the next round."""
        high = self._qualities[self._round - 1]
        self._high_rounds += high
        if bought:
            self._sold += 1
            self._high_sold += high
            seller_reward, buyer_reward = self.money, self._gain_high if high else self._gain_low
        else:
            seller_reward = buyer_reward = 0.0
        rewards, cumulative = self.rewards, self._cumulative_rewards
        rewards[SELLER], rewards[BUYER] = seller_reward, buyer_reward
        cumulative[SELLER] += seller_reward  # the seller's was cleared when it recommended
        cumulative[BUYER] = buyer_reward
        history = self._history.copy()  # rows: recommended, bought, quality
        index = self._round - 1
        history[0, index] = self._recommendation
        history[1, index] = bought
        history[2, index] = high
        history.setflags(write=False)
        self._publish_history(history)
        self._last_bought = int(bought)
        if self._text:
            self._buyer_message = normalize_text(action.get("message", ""), self.message_length)
        if self._round == self._last_round:
            self._finish()
            return
        self._round += 1
        self._recommendation = 0
        self._message = ""
        self.agent_selection = SELLER

    def _publish_history(self, history: np.ndarray) -> None:
        """Show ``history`` (read-only, never written afterwards; its rows are the
        `_HISTORY_KEYS` fields) to the agents who see the history."""
        self._history = history
        recommended, bought, quality = history  # read-only views
        for observation in self._recorders:
            observation["history_recommended"] = recommended
            observation["history_bought"] = bought
            observation["history_quality"] = quality

    def _finish(self) -> None:
        """End (or truncate) the episode and publish the metrics."""
        self._end_episode(self._metrics(), truncated=self._cut_short)

    def _metrics(self) -> dict[str, float | None]:
        return episode_metrics(
            self._round,
            self._high_rounds,
            self._high_sold,
            self._sold,
            self.p_high,
            self.value_high,
            self.value_low,
        )

    # Rendering ----------------------------------------------------------------------------------

    def _describe(self) -> str:
        if self._over:
            return (
                f"over after {self._round} rounds: {self._sold} sold, {self._high_sold} of them "
                f"high quality, in {self._high_rounds} high-quality rounds"
            )
        quality = "high" if self._qualities[self._round - 1] else "low"
        head = f"round {self._round} of {self.rounds}: {quality} quality; "
        if self.agent_selection == SELLER:
            return head + "the seller decides whether to recommend it"
        said = "recommends" if self._recommendation else "does not recommend"
        return head + f"the seller {said} it; the buyer decides"
