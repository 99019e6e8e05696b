"""`mercato/Bargaining-v0`: Rubinstein alternating offers as GLEE plays it (AEC)."""

from __future__ import annotations

import math
import operator
from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo import AECEnv

from envs.core.spaces import FreeText, normalize_text
from envs.games.bargaining_protocol import BargainingProtocol
from envs.games.bargaining_rules import (
    ACCEPT,
    AGENTS,
    ALICE,
    ANNOUNCE_LIMIT,
    BOB,
    NAMES,
    OTHER,
    PROPOSE,
    REJECT,
    RESPOND,
    episode_metrics,
    spe_alice_share,
)
from envs.games.params import BargainingParams
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


def env(**kwargs: Any) -> AECEnv:
    """The bargaining game wrapped like PettingZoo's built-ins: call order enforced, and every
    action checked against the full action space (ValueError naming the agent and the space)."""
    return wrapped(raw_env(**kwargs))


PROPOSE_MASK = frozen([1, 0, 0])
RESPOND_MASK = frozen([0, 1, 1])
NO_DECISION = frozen([0, 0, 0])
NO_OFFER = scalar(0.0)


class raw_env(TwoPlayerGame):
    """Two players split a sum of money by alternating offers, and delay shrinks its worth.

    ## Description
    Rubinstein's (1982) alternating-offers bargaining, with the rules, parameters and metrics of
    GLEE's bargaining family (Shapira et al., arXiv 2410.05254): Alice proposes a split of `money`
    in odd rounds and Bob in even rounds; the other accepts (the game ends) or rejects (the next
    round starts with roles swapped). Money received in round t is worth δ^(t-1) of its face value
    to a player with discount δ. A rejection in round `horizon` ends the game with no deal.
    The game itself has no randomness; `reset`'s seed only seeds the lazily created `np_random`.

    ## Agents
    `alice_0` proposes in rounds 1, 3, 5, ... and responds in even rounds; `bob_0` the reverse.
    Exactly one agent acts at a time.

    ## Observation space
    `Dict`, one per agent (see `observation_space`):

    * `role` `Discrete(2)`: 0 for Alice, 1 for Bob.
    * `round` `Discrete(horizon, start=1)`: the current round.
    * `phase` `Discrete(2)`: 0 while an offer is awaited, 1 while a response is awaited.
    * `offer` `Box(0, 1, (1,), float64)`: Alice's share in the latest offer (0 before any).
    * `money` `Box(0, money, (1,), float64)`: the sum being split.
    * `own_discount`, `other_discount` `Box(0, 1, (1,), float64)`: discount factors; the other's
      is 0 under incomplete information, when `other_discount_known` (`Discrete(2)`) is 0.
    * `horizon` `Discrete(horizon + 1)`: the last round when announced, else 0.
    * `messages_allowed` `Discrete(2)`: whether offers carry messages.
    * `last_message` `FreeText(message_length)`: the other player's latest offer message.
    * `offers` `Box(0, 1, (horizon,), float64)`: the history, as GLEE's players saw it: entry t-1
      is Alice's share in round t's offer (Alice offered in odd rounds, Bob in even ones), for
      every round t before `round` (all rejected, or the game would be over); 0 for `round` and
      later, whose offer is `offer`. `offer_messages` `Tuple(FreeText(message_length), ...)`,
      `horizon` entries: the message sent with each of those offers ("" elsewhere, and always
      "" without messages); the RL encoders of `sim.rl.encoders` leave it out.
    * `decision_mask` `Box(0, 1, (3,), int8)`: allowed decisions now, `[offer, accept, reject]`
      (all 0 when it is not this agent's turn).

    Dict action spaces take their mask as a dict, so the mask `api_test` and `Dict.sample` use is
    `info["action_mask"] = {"decision": <int8 mask>, "alice_share": None, "message": None}`, the
    mask of the agent's next decision (a waiting agent's next decision is always a response); the
    observation has no `action_mask` key. Each `observe` returns a new dict whose arrays are
    read-only and shared with other observations: the env replaces them rather than writing into
    them, so a returned observation never changes. Masks and info dicts are shared between steps:
    read them, don't write them. Discrete values are Python ints; `offer_messages` is a tuple.
    The bounds of `round` and `horizon` and the history's length reveal the horizon even when it
    is not announced (text players are not told it).

    ## Action space
    Both agents: `Dict({"decision": Discrete(3), "alice_share": Box(0, 1, (1,), float64),
    "message": FreeText(message_length)})`. `decision` 0 offers Alice `alice_share` of the money
    (Bob gets the rest), 1 accepts the offer on the table, 2 rejects it. A proposer's action is
    always read as an offer of `alice_share`, whatever its `decision`; a responder's `offer` (0)
    counts as a rejection (the counteroffer comes next round). `message` is delivered, normalised
    (NFC, at most `message_length` characters), with offers when `messages` is on and ignored
    otherwise; responses carry no message (as in GLEE). An action outside the space raises
    ValueError naming the agent and the space: `env()` checks the whole space, the raw env
    (stepped by the engine) only the decision and the share, which is cheap.

    ## Rewards
    Paid to both agents when the game ends, in money units: a deal at Alice share p in round t
    pays Alice `money·δ_A^(t-1)·p` and Bob `money·δ_B^(t-1)·(1-p)`; no deal pays 0 to both.

    ## Episode end
    Both agents terminate on an acceptance or on a rejection in round `horizon`. With
    `max_cycles` below `horizon`, both are truncated after a rejection in round `max_cycles` (each
    agent acts once per round), with the metrics of no deal.

    ## Parameters
    Keyword-only; a value out of range raises ValueError naming the parameter.

    * `money` (float > 0, default 10_000): the sum to split (GLEE: 1e2, 1e4, 1e6).
    * `discount_alice`, `discount_bob` (float in (0, 1], default 0.9): δ_A and δ_B.
    * `horizon` (int >= 1, default 99): the round cap (GLEE's "infinite" games: 99, unannounced).
    * `announce_horizon` (bool or None, default None): whether players know `horizon`; None means
      GLEE's rule, announced iff `horizon <= 20`.
    * `complete_information` (bool, default True): whether each player knows the other's δ.
    * `messages` (bool, default False): whether offers carry free-text messages.
    * `message_length` (int >= 1, default 500): the longest message kept.
    * `max_cycles` (int >= 1 or None, default None): truncate after this many rounds.
    * `render_mode` (None, "ansi" or "human").

    ## Metrics
    `info["metrics"]` of both agents at the end, a flat dict of floats (None where undefined),
    with the paper's definitions, not GLEE code's no-deal values: `deal` (1 or 0), `round` (the
    agreement round; the last round played without a deal), `alice_share` (p; None without a
    deal), `self_gain_alice` δ_A^(t-1)·p, `self_gain_bob` δ_B^(t-1)·(1-p), `efficiency` (their
    sum), `fairness` 1-4(p-1/2)² (no deal: gains 0, efficiency 0, fairness 1), `spe_alice_share`
    (Alice's subgame-perfect round-1 share: backward induction when the horizon is announced,
    Rubinstein's (1-δ_B)/(1-δ_A·δ_B) when not; None when unannounced with δ_A = δ_B = 1, where
    every split is an equilibrium) and `regret_alice_share` |p - spe| (None when either is).

    Undefined metrics are None rather than NaN because PettingZoo's `seed_test` compares infos
    with `==` and NaN != NaN; tables store None as null (NaN in pandas).

    ## Version history
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "bargaining_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
    }
    protocol: BargainingProtocol = BargainingProtocol()

    def __init__(
        self,
        *,
        money: float = 10_000.0,
        discount_alice: float = 0.9,
        discount_bob: float = 0.9,
        horizon: int = 99,
        announce_horizon: bool | None = None,
        complete_information: bool = True,
        messages: bool = False,
        message_length: int = 500,
        max_cycles: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        parameters = {
            "money": money,
            "discount_alice": discount_alice,
            "discount_bob": discount_bob,
            "horizon": horizon,
            "announce_horizon": announce_horizon,
            "complete_information": complete_information,
            "messages": messages,
            "message_length": message_length,
            "max_cycles": max_cycles,
            "render_mode": render_mode,
        }
        super().__init__(AGENTS, parameters, BargainingParams, rounds=horizon)
        self.discounts = {ALICE: float(discount_alice), BOB: float(discount_bob)}
        self.horizon = int(horizon)
        self.announced = horizon <= ANNOUNCE_LIMIT if announce_horizon is None else announce_horizon
        self.messages = messages
        if self.message_length != self.protocol.message_length:
            self.protocol = BargainingProtocol(message_length=self.message_length)
        spe = spe_alice_share(
            self.discounts[ALICE], self.discounts[BOB], self.horizon, self.announced
        )
        self.spe_alice_share: float | None = None if math.isnan(spe) else spe

        self.observation_spaces = {agent: self._observation_space() for agent in AGENTS}
        self.action_spaces = {agent: self._action_space() for agent in AGENTS}
        self._observations = {agent: self._initial_observation(agent) for agent in AGENTS}
        self._propose_infos, self._respond_infos, self._first_infos = offer_infos(
            AGENTS, "alice_share", PROPOSE_MASK, RESPOND_MASK
        )
        self._inbox = {ALICE: "", BOB: ""}
        self._history = OfferHistory(list(self._observations.values()), self.horizon)
        self.reset()

    # Spaces -------------------------------------------------------------------------------------

    def _observation_space(self) -> Dict:
        return Dict(
            {
                "role": Discrete(2),
                "round": Discrete(self.horizon, start=1),
                "phase": Discrete(2),
                "offer": scalar_box(1.0),
                "money": scalar_box(self.money),
                "own_discount": scalar_box(1.0),
                "other_discount": scalar_box(1.0),
                "other_discount_known": Discrete(2),
                "horizon": Discrete(self.horizon + 1),
                "messages_allowed": Discrete(2),
                "last_message": FreeText(self.message_length),
                **offer_history_spaces(1.0, self.horizon, self.message_length),
                "decision_mask": Box(0, 1, shape=(3,), dtype=np.int8),
            }
        )

    def _action_space(self) -> Dict:
        return Dict(
            {
                "decision": Discrete(3),
                "alice_share": scalar_box(1.0),
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
            "money": scalar(self.money),
            "own_discount": scalar(self.discounts[agent]),
            "other_discount": scalar(self.discounts[OTHER[agent]] if known else 0.0),
            "other_discount_known": int(known),
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
        self._mask = PROPOSE_MASK  # the selected agent's decision mask
        self._deal = False
        self._history.clear()
        if self.messages:
            self._inbox[ALICE] = self._inbox[BOB] = ""

    def observe(self, agent: str) -> dict[str, Any]:
        """``agent``'s observation: a new dict of read-only arrays (see the class docstring)."""
        observation = self._observations[agent].copy()
        observation["round"] = self._round
        observation["phase"] = self._phase
        observation["offer"] = self._offer_seen
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
            share = action["alice_share"]
            alice_share = share.item() if type(share) is np.ndarray else only_item(share)
            valid = 0 <= decision <= REJECT and 0.0 <= alice_share <= 1.0
        except (TypeError, KeyError, IndexError, ValueError):
            valid = False
        if not valid:
            space = self.action_spaces[agent]
            raise ValueError(f"{agent}: action {action!r} is not in {space}")
        if self._phase == PROPOSE:
            self._propose(agent, alice_share, action)
        elif decision == ACCEPT:
            self._finish(deal=True)
        elif self._round == self._last_round:
            self._finish(deal=False)
        else:  # rejected: the responder proposes next round
            self._history.record(
                self._round, self._offer, self._inbox[agent] if self.messages else None
            )
            self._round += 1
            self._phase = PROPOSE
            self._mask = PROPOSE_MASK
            self.infos[agent] = self._propose_infos[agent]

    def _propose(self, agent: str, alice_share: float, action: Any) -> None:
        other = OTHER[agent]
        self._offer = alice_share
        self._offer_seen = scalar(alice_share)
        if self.messages:
            self._inbox[other] = normalize_text(action.get("message", ""), self.message_length)
        self._phase = RESPOND
        self._mask = RESPOND_MASK
        self.infos[agent] = self._respond_infos[agent]  # its next decision is a response
        self.agent_selection = other

    def _finish(self, deal: bool) -> None:
        """Pay both agents, end (or truncate) the episode and publish the metrics."""
        metrics = self._metrics(deal)
        self._deal = deal
        self._mask = NO_DECISION
        self._pay(self.money * metrics["self_gain_alice"], self.money * metrics["self_gain_bob"])
        self._end_episode(metrics, truncated=self._cut_short and not deal)

    def _metrics(self, deal: bool) -> dict[str, float | None]:
        return episode_metrics(
            deal,
            self._round,
            self._offer,
            self.discounts[ALICE],
            self.discounts[BOB],
            self.horizon,
            self.announced,
        )

    # Rendering ----------------------------------------------------------------------------------

    def _describe(self) -> str:
        share = self._offer
        offer = f"Alice {share:.1%} / Bob {1.0 - share:.1%}"
        if not self._over:
            actor = NAMES[self.agent_selection]
            doing = "proposes" if self._phase == PROPOSE else f"considers the offer {offer}"
            return f"round {self._round}: {actor} {doing}"
        if self._deal:
            return f"deal in round {self._round}: {offer}"
        return f"no deal after round {self._round}"
