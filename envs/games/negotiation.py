"""`mercato/Negotiation-v0`: bilateral trade by alternating price offers as GLEE plays it (AEC)."""

from __future__ import annotations

import operator
from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo import AECEnv

from envs.core.spaces import FreeText, normalize_text
from envs.games.negotiation_protocol import NegotiationProtocol
from envs.games.negotiation_rules import (
    ACCEPT,
    AGENTS,
    ANNOUNCE_LIMIT,
    BUYER,
    NAMES,
    OTHER,
    OUTSIDE,
    PRICE_CAP_MONEY,
    PROPOSE,
    RESPOND,
    SELLER,
    episode_metrics,
    price_cap,
    spe_price,
)
from envs.games.params import NegotiationParams
from envs.games.two_player import (
    OfferHistory,
    TwoPlayerGame,
    frozen,
    offer_history_spaces,
    offer_infos,
    only_item,
    scalar,
    scalar_box,
    wrapped,
)

ENV_ID = "mercato/Negotiation-v0"


def env(**kwargs: Any) -> AECEnv:
    """The negotiation game wrapped like PettingZoo's built-ins: call order enforced, and every
    action checked against the full action space (ValueError naming the agent and the space)."""
    return wrapped(raw_env(**kwargs))


PROPOSE_MASK = frozen([1, 0, 0, 0])
RESPOND_MASK = frozen([0, 1, 1, 1])
NO_DECISION = frozen([0, 0, 0, 0])
NO_OFFER = scalar(0.0)


class raw_env(TwoPlayerGame):
    """A seller and a buyer haggle over the price of a good by alternating offers.

    ## Description
    Bilateral trade with the rules, parameters and metrics of GLEE's negotiation family (Shapira
    et al., arXiv 2410.05254): the seller values the good at V_A = `seller_value_factor`·`money`,
    the buyer at V_B = `buyer_value_factor`·`money`. The seller names a price in odd rounds and the
    buyer in even rounds; the other accepts (they trade at that price and the game ends), rejects
    (the next round starts and the rejecting player proposes: GLEE's reject-plus-counteroffer in
    two turns), or takes the outside option (GLEE's SellToJhon / BuyFromJhon: trading with a third
    party at one's own value, worth 0; the game ends). A rejection in round `horizon` ends the
    game with no trade. There is no discounting. Theory (games.md §6.3): with complete
    information and a known horizon the last proposer takes the whole surplus, and trade is
    efficient iff V_B > V_A. The game itself has no randomness; `reset`'s seed only seeds the
    lazily created `np_random`.

    ## Agents
    `seller_0` proposes in rounds 1, 3, 5, ... and responds in even rounds; `buyer_0` the reverse.
    Exactly one agent acts at a time.

    ## Observation space
    `Dict`, one per agent (see `observation_space`); amounts are in money units, and P denotes the
    price cap max(10·money, 2·V_A, 2·V_B):

    * `role` `Discrete(2)`: 0 for the seller, 1 for the buyer.
    * `round` `Discrete(horizon, start=1)`: the current round.
    * `phase` `Discrete(2)`: 0 while an offer is awaited, 1 while a response is awaited.
    * `offer` `Box(0, P, (1,), float64)`: the price in the latest offer, by either player (0
      before any): the responder's offer on the table, or the offer a proposer just rejected.
    * `own_offer` `Box(0, P, (1,), float64)`: this agent's own latest offer (0 before its first,
      which comes in round 1 for the seller and round 2 for the buyer).
    * `money` `Box(0, money, (1,), float64)`: the money scale M.
    * `own_value`, `other_value` `Box(0, P, (1,), float64)`: the players' values of the good; the
      other's is 0 under incomplete information, when `other_value_known` (`Discrete(2)`) is 0.
    * `horizon` `Discrete(horizon + 1)`: the last round when announced, else 0.
    * `messages_allowed` `Discrete(2)`: whether offers carry messages.
    * `last_message` `FreeText(message_length)`: the other player's latest offer message.
    * `offers` `Box(0, P, (horizon,), float64)`: the history, as GLEE's players saw it: entry t-1
      is the price offered in round t (by the seller in odd rounds, the buyer in even ones), for
      every round t before `round` (all rejected, or the game would be over); 0 for `round` and
      later, whose offer is `offer`. `offer_messages` `Tuple(FreeText(message_length), ...)`,
      `horizon` entries: the message sent with each of those offers ("" elsewhere, and always
      "" without messages); the RL encoders of `sim.rl.encoders` leave it out.
    * `decision_mask` `Box(0, 1, (4,), int8)`: allowed decisions now, `[offer, accept, reject,
      outside]` (all 0 when it is not this agent's turn).

    Dict action spaces take their mask as a dict, so the mask `api_test` and `Dict.sample` use is
    `info["action_mask"] = {"decision": <int8 mask>, "price": None, "message": None}`, the mask of
    the agent's next decision (a waiting agent's next decision is always a response); the
    observation has no `action_mask` key. Each `observe` returns a new dict whose arrays are
    read-only and shared with other observations: the env replaces them rather than writing into
    them, so a returned observation never changes. Masks and info dicts are shared between steps:
    read them, don't write them. Discrete values are Python ints; `offer_messages` is a tuple.
    The bounds of `round` and `horizon` and the history's length reveal the horizon even when it
    is not announced (text players are not told it), and P reveals the larger value when a value
    factor exceeds 5.

    ## Action space
    Both agents: `Dict({"decision": Discrete(4), "price": Box(0, P, (1,), float64), "message":
    FreeText(message_length)})`. `decision` 0 offers to trade at `price`, 1 accepts the offer on
    the table, 2 rejects it, 3 takes the outside option. A proposer's action is always read as an
    offer of `price`, whatever its `decision`; a responder's `offer` (0) counts as a rejection
    (its counteroffer comes next round) and its `price` is ignored. `message` is delivered,
    normalised (NFC, at most `message_length` characters), with offers when `messages` is on and
    ignored otherwise; responses carry no message (as in GLEE). An action outside the space raises
    ValueError naming the agent and the space: `env()` checks the whole space, the raw env
    (stepped by the engine) only the decision and the price, which is cheap.

    ## Rewards
    Paid to both agents when the game ends, in money units: a trade at price p pays the seller
    `p - V_A` and the buyer `V_B - p`; no trade (a rejection in the last round, or the outside
    option) pays 0 to both.

    ## Episode end
    Both agents terminate on an acceptance, on the outside option, or on a rejection in round
    `horizon`. With `max_cycles` below `horizon`, both are truncated after a rejection in round
    `max_cycles` (each agent acts once per round), with the metrics of no trade.

    ## Parameters
    Keyword-only; a value out of range raises ValueError naming the parameter.

    * `money` (float in (0, 1e29], default 10_000): the money scale M (GLEE: 1e2, 1e4, 1e6).
    * `seller_value_factor`, `buyer_value_factor` (float > 0, default 1.0): F_A and F_B, so that
      V_A = F_A·M and V_B = F_B·M (GLEE: 0.8, 1, 1.2, 1.5); F·M at most 1e29.
    * `horizon` (int >= 1, default 1): the round cap (GLEE: 1, 10, and 30 unannounced for "∞").
    * `announce_horizon` (bool or None, default None): whether players know `horizon`; None means
      GLEE's rule, announced iff `horizon <= 20`.
    * `complete_information` (bool, default True): whether each player knows the other's value.
    * `messages` (bool, default False): whether offers carry free-text messages.
    * `message_length` (int >= 1, default 500): the longest message kept.
    * `max_cycles` (int >= 1 or None, default None): truncate after this many rounds.
    * `render_mode` (None, "ansi" or "human").

    ## Metrics
    `info["metrics"]` of both agents at the end, a flat dict of floats (None where undefined),
    with the paper's definitions: `trade` (1 or 0), `outside_option` (1 if a player took it),
    `round` (the last round played), `price` (p; None without trade), `self_gain_seller`
    (p - V_A)/M and `self_gain_buyer` (V_B - p)/M (0 without trade), `efficiency` (1 iff V_A >=
    V_B and no trade, or a trade at V_A <= p <= V_B; else 0), `fairness` 1 - 4((p - p_f)/M)² with
    p_f = (V_A + V_B)/2 (1 without trade), `spe_price` (the subgame-perfect price when both values
    and the horizon are known: V_B for odd T, V_A for even T; None without gains from trade,
    under incomplete information or with an unannounced horizon) and `regret_price`
    |p - spe_price|/M (None when either is). Prices travel as float64, so p is compared with V_A
    and V_B allowing a relative 1e-6 of rounding.

    Undefined metrics are None rather than NaN because PettingZoo's `seed_test` compares infos
    with `==` and NaN != NaN; tables store None as null (NaN in pandas).

    ## Version history
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "negotiation_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
    }
    protocol: NegotiationProtocol = NegotiationProtocol()

    def __init__(
        self,
        *,
        money: float = 10_000.0,
        seller_value_factor: float = 1.0,
        buyer_value_factor: float = 1.0,
        horizon: int = 1,
        announce_horizon: bool | None = None,
        complete_information: bool = True,
        messages: bool = False,
        message_length: int = 500,
        max_cycles: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        parameters = {
            "money": money,
            "seller_value_factor": seller_value_factor,
            "buyer_value_factor": buyer_value_factor,
            "horizon": horizon,
            "announce_horizon": announce_horizon,
            "complete_information": complete_information,
            "messages": messages,
            "message_length": message_length,
            "max_cycles": max_cycles,
            "render_mode": render_mode,
        }
        super().__init__(AGENTS, parameters, NegotiationParams, rounds=horizon)
        self.value_factors = {SELLER: float(seller_value_factor), BUYER: float(buyer_value_factor)}
        self.values = {agent: factor * self.money for agent, factor in self.value_factors.items()}
        self.horizon = int(horizon)
        self.announced = horizon <= ANNOUNCE_LIMIT if announce_horizon is None else announce_horizon
        self.messages = messages
        self.price_cap = price_cap(self.money, self.values[SELLER], self.values[BUYER])
        if self.message_length != self.protocol.message_length or (
            self.price_cap != PRICE_CAP_MONEY * self.money
        ):
            self.protocol = NegotiationProtocol(
                message_length=self.message_length, price_cap=self.price_cap
            )
        known = self.complete_information and self.announced
        spe = spe_price(self.values[SELLER], self.values[BUYER], self.horizon)
        self.spe_price: float | None = spe if known else None

        self.observation_spaces = {agent: self._observation_space() for agent in AGENTS}
        self.action_spaces = {agent: self._action_space() for agent in AGENTS}
        # The largest price the action space holds (its float64 bound), for the raw env's check.
        self._price_high = float(self.action_spaces[SELLER]["price"].high[0])
        self._observations = {agent: self._initial_observation(agent) for agent in AGENTS}
        self._propose_infos, self._respond_infos, self._first_infos = offer_infos(
            AGENTS, "price", PROPOSE_MASK, RESPOND_MASK
        )
        self._inbox = {SELLER: "", BUYER: ""}
        self._own_offers = {SELLER: NO_OFFER, BUYER: NO_OFFER}
        self._history = OfferHistory(list(self._observations.values()), self.horizon)
        self.reset()

    # Spaces -------------------------------------------------------------------------------------

    def _price_box(self) -> Box:
        return scalar_box(self.price_cap)

    def _observation_space(self) -> Dict:
        return Dict(
            {
                "role": Discrete(2),
                "round": Discrete(self.horizon, start=1),
                "phase": Discrete(2),
                "offer": self._price_box(),
                "own_offer": self._price_box(),
                "money": scalar_box(self.money),
                "own_value": self._price_box(),
                "other_value": self._price_box(),
                "other_value_known": Discrete(2),
                "horizon": Discrete(self.horizon + 1),
                "messages_allowed": Discrete(2),
                "last_message": FreeText(self.message_length),
                **offer_history_spaces(self.price_cap, self.horizon, self.message_length),
                "decision_mask": Box(0, 1, shape=(4,), dtype=np.int8),
            }
        )

    def _action_space(self) -> Dict:
        return Dict(
            {
                "decision": Discrete(4),
                "price": self._price_box(),
                "message": FreeText(self.message_length),
            }
        )

    def _initial_observation(self, agent: str) -> dict[str, Any]:
        known = self.complete_information
        return {
            "role": AGENTS.index(agent),
            "round": 1,
            "phase": PROPOSE,
            "offer": NO_OFFER,
            "own_offer": NO_OFFER,
            "money": scalar(self.money),
            "own_value": scalar(self.values[agent]),
            "other_value": scalar(self.values[OTHER[agent]] if known else 0.0),
            "other_value_known": int(known),
            "horizon": self.horizon if self.announced else 0,
            "messages_allowed": int(self.messages),
            "last_message": "",
            **OfferHistory.initial(self.horizon),
            "decision_mask": NO_DECISION,
        }

    # Episode ------------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._restart(seed, self._first_infos)
        self._round = 1
        self._phase = PROPOSE
        self._offer = 0.0
        self._offer_seen = NO_OFFER  # `_offer` as observations show it
        own_offers = self._own_offers  # each agent's latest offer, as observations show it
        own_offers[SELLER] = own_offers[BUYER] = NO_OFFER
        self._mask = PROPOSE_MASK  # the selected agent's decision mask
        self._trade = False
        self._outside: str | None = None  # who took the outside option
        self._history.clear()
        if self.messages:
            self._inbox[SELLER] = self._inbox[BUYER] = ""

    def observe(self, agent: str) -> dict[str, Any]:
        """``agent``'s observation: a new dict of read-only arrays (see the class docstring)."""
        observation = self._observations[agent].copy()
        observation["round"] = self._round
        observation["phase"] = self._phase
        observation["offer"] = self._offer_seen
        observation["own_offer"] = self._own_offers[agent]
        observation["decision_mask"] = self._mask if agent == self.agent_selection else NO_DECISION
        if self.messages:
            observation["last_message"] = self._inbox[agent]
        return observation

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self._over:
            self._remove_finished(agent, action)
            return
        try:
            decision = operator.index(action["decision"])
            given = action["price"]
            price = given.item() if type(given) is np.ndarray else only_item(given)
            valid = 0 <= decision <= OUTSIDE and 0.0 <= price <= self._price_high
        except (TypeError, KeyError, IndexError, ValueError):
            valid = False
        if not valid:
            space = self.action_spaces[agent]
            raise ValueError(f"{agent}: action {action!r} is not in {space}")
        if self._phase == PROPOSE:
            self._propose(agent, price, action)
        elif decision == ACCEPT:
            self._finish(trade=True)
        elif decision == OUTSIDE:
            self._outside = agent
            self._finish(trade=False)
        elif self._round == self._last_round:
            self._finish(trade=False)
        else:  # rejected: the responder proposes next round
            self._history.record(
                self._round, self._offer, self._inbox[agent] if self.messages else None
            )
            self._round += 1
            self._phase = PROPOSE
            self._mask = PROPOSE_MASK
            self.infos[agent] = self._propose_infos[agent]

    def _propose(self, agent: str, price: float, action: Any) -> None:
        other = OTHER[agent]
        self._offer = price
        self._offer_seen = self._own_offers[agent] = scalar(price)
        if self.messages:
            self._inbox[other] = normalize_text(action.get("message", ""), self.message_length)
        self._phase = RESPOND
        self._mask = RESPOND_MASK
        self.infos[agent] = self._respond_infos[agent]  # its next decision is a response
        self.agent_selection = other

    def _finish(self, trade: bool) -> None:
        """Pay both agents, end (or truncate) the episode and publish the metrics."""
        metrics = self._metrics(trade)
        self._trade = trade
        self._mask = NO_DECISION
        money = self.money
        self._pay(money * metrics["self_gain_seller"], money * metrics["self_gain_buyer"])
        truncated = self._cut_short and not trade and self._outside is None
        self._end_episode(metrics, truncated)

    def _metrics(self, trade: bool) -> dict[str, float | None]:
        return episode_metrics(
            self.values[SELLER],
            self.values[BUYER],
            self.money,
            self._offer if trade else None,
            self._outside is not None,
            self._round,
            self.horizon,
            self.complete_information and self.announced,
        )

    # Rendering ----------------------------------------------------------------------------------

    def _describe(self) -> str:
        price = _dollars(self._offer)
        if not self._over:
            actor = NAMES[self.agent_selection]
            doing = "proposes" if self._phase == PROPOSE else f"considers the price {price}"
            return f"round {self._round}: {actor} {doing}"
        if self._trade:
            return f"trade in round {self._round} at {price}"
        if self._outside is not None:
            return (
                f"no trade: {NAMES[self._outside]} took the outside option in round {self._round}"
            )
        return f"no trade after round {self._round}"


def _dollars(amount: float) -> str:
    text = f"${amount:,.2f}"
    return text[:-3] if text.endswith(".00") else text
