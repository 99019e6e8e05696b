"""Scripted players of `mercato/Negotiation-v0`: the subgame-perfect player and two heuristics.

Each acts by arithmetic on its observation (which carries both its own and the other's latest
offer), so all are memoryless and deterministic. Responses and the equilibrium player's offers
are shared, read-only action dicts; do not mutate returned actions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from envs.games.negotiation_rules import (
    ACCEPT,
    OFFER,
    OUTSIDE,
    PROPOSE,
    REJECT,
    SELLER,
    price_cap,
    slack,
)

ENV_ID = "mercato/Negotiation-v0"
_CACHE_LIMIT = 4096  # offers kept per player for reuse


class NegotiationPlayer(BatchPolicy):
    """Base of the scripted players: shared responses and a bounded cache of offer actions.

    Deterministic and memoryless across episodes, so the engine shares one per seat.
    """

    reusable = True

    def __init__(self) -> None:
        self._offers: dict[float, dict[str, Any]] = {}
        self._responses = {d: _action(d, 0.0) for d in (ACCEPT, REJECT, OUTSIDE)}

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        raise NotImplementedError

    def _offer(self, price: float) -> dict[str, Any]:
        action = self._offers.get(price)
        if action is None:
            if len(self._offers) >= _CACHE_LIMIT:
                self._offers.clear()
            action = self._offers[price] = _action(OFFER, max(price, 0.0))
        return action


class EquilibriumPlayer(NegotiationPlayer):
    """The subgame-perfect player (games.md §6.3), computed from what it observes.

    With gains from trade (V_B > V_A) and an announced horizon T, the last proposer takes the
    whole surplus: the target price p* is V_B when T is odd (the seller proposes last) and V_A
    when T is even. Every proposer offers p*; before the last round a responder accepts iff the
    offer is at least as good for it as p* (what it gets by proposing on), else rejects; in the
    last round it accepts anything at least as good as its outside option (seller p >= V_A, buyer
    p <= V_B; indifference breaks toward trading), else takes the outside option. So two of them
    trade at p* in round 1. With an unannounced horizon the game has many equilibria; it then
    uses the even split of the surplus, p* = (V_A + V_B)/2.

    Without gains from trade (V_B <= V_A, within float64 rounding) it offers its own value and
    accepts only a strictly profitable offer, else takes the outside option: two of them never
    trade, not even at V_A = V_B (indifference breaks toward no trade).

    Under incomplete information it assumes the other's value equals its own, so it believes
    there is no surplus: it offers its own value (a posted price at cost) and accepts only strict
    gains. Two of them then trade in round 1 at the seller's value iff V_B > V_A: efficient, with
    all the surplus to the buyer.
    """

    name = "negotiation/equilibrium"

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        is_seller = agent == SELLER
        own = observation["own_value"].item()
        other = observation["other_value"].item() if observation["other_value_known"] else own
        seller_value, buyer_value = (own, other) if is_seller else (other, own)
        money = observation["money"].item()
        gains = buyer_value - seller_value > slack(money, seller_value, buyer_value)
        if gains:
            horizon = observation["horizon"]
            if not horizon:
                target = (seller_value + buyer_value) / 2.0
            else:
                target = buyer_value if horizon % 2 else seller_value
        else:
            target = own
        if observation["phase"] == PROPOSE:
            return self._offer(target)
        price = observation["offer"].item()
        # sign · (price - x): how much better the offer is for this player than a trade at x.
        sign = 1.0 if is_seller else -1.0
        tolerance = slack(money, price, own, target)
        if not gains:
            better = sign * (price - own) > tolerance
            return self._responses[ACCEPT if better else OUTSIDE]
        horizon, round_ = observation["horizon"], observation["round"]
        if horizon and round_ >= horizon:
            good = sign * (price - own) >= -tolerance
            return self._responses[ACCEPT if good else OUTSIDE]
        good = sign * (price - target) >= -tolerance
        return self._responses[ACCEPT if good else REJECT]


class ConcedingPlayer(NegotiationPlayer):
    """Base of the heuristics: subclasses say what they would propose now (`proposal`).

    As responder a heuristic accepts an offer at least as good as what it would propose next
    (less `tolerance`·money of slack), never one worse than its own value; in an announced last
    round it accepts anything not worse than its own value (rejecting then pays nothing). It never
    takes the outside option: it keeps haggling until the horizon. Offers never cross its own
    value (the seller never asks less than V_A, the buyer never offers more than V_B), nor exceed
    max(10·money, 2·V), which is within the env's price cap.
    """

    tolerance = 0.0

    def proposal(self, observation: Any, is_seller: bool, own: float) -> float:
        """The price this player proposes now, or would propose next round when responding."""
        raise NotImplementedError

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        is_seller = agent == SELLER
        own = observation["own_value"].item()
        money = observation["money"].item()
        if observation["phase"] == PROPOSE:
            # Within every cap the env may have: max(10·money, 2·own) <= max(10·M, 2·V_A, 2·V_B).
            price = self.proposal(observation, is_seller, own)
            return self._offer(min(price, price_cap(money, own, own)))
        price = observation["offer"].item()
        gain = price - own if is_seller else own - price
        if gain < -slack(money, price, own):
            return self._responses[REJECT]
        horizon = observation["horizon"]
        if horizon and observation["round"] >= horizon:
            return self._responses[ACCEPT]
        next_price = self.proposal(observation, is_seller, own)
        shortfall = next_price - price if is_seller else price - next_price
        good = shortfall <= self.tolerance * money + slack(money, price, next_price)
        return self._responses[ACCEPT if good else REJECT]


def _opening(own: float, anchor: float, is_seller: bool) -> float:
    """The first offer: ``anchor`` times its own value away from it, toward its own gain."""
    return own * (1.0 + anchor) if is_seller else max(own * (1.0 - anchor), 0.0)


def _next_offer_index(observation: Any, is_seller: bool) -> int:
    """How many offers this player has made before its current (or next) proposal."""
    round_ = observation["round"] + (0 if observation["phase"] == PROPOSE else 1)
    return (round_ - 1) // 2 if is_seller else (round_ - 2) // 2


class AnchoringPlayer(ConcedingPlayer):
    """An ambitious first offer, then slow concessions: the anchoring tactic of negotiators
    (Tversky & Kahneman 1974; Galinsky & Mussweiler 2001: extreme first offers pull settlements
    toward them).

    Its first offer lies ``anchor`` times its own value V away from V in its favour: the seller
    asks (1 + anchor)·V, the buyer offers (1 - anchor)·V (at least 0). Each later offer gives up
    ``concession`` of the remaining distance to V, so its k-th offer (from 0) is
    V·(1 ± anchor·(1 - concession)^k), approaching V without reaching it. It accepts an offer at
    least as good as its next one (see `ConcedingPlayer`).
    """

    name = "negotiation/anchoring"

    def __init__(self, anchor: float = 0.5, concession: float = 0.25) -> None:
        super().__init__()
        if not (isinstance(anchor, int | float) and anchor >= 0.0):
            raise ValueError(f"anchor must be a number >= 0, got {anchor!r}")
        if not (isinstance(concession, int | float) and 0.0 <= concession <= 1.0):
            raise ValueError(f"concession must be in [0, 1], got {concession!r}")
        self.anchor, self.concession = float(anchor), float(concession)

    def proposal(self, observation: Any, is_seller: bool, own: float) -> float:
        index = _next_offer_index(observation, is_seller)
        distance = self.anchor * (1.0 - self.concession) ** index
        return _opening(own, distance, is_seller)


class SplitTheDifferencePlayer(ConcedingPlayer):
    """Meets the other halfway: the "let's split the difference" norm of everyday haggling, a
    focal compromise (Schelling 1960; Raiffa 1982).

    It opens ``anchor`` times its own value V away from V in its favour (as `AnchoringPlayer`);
    each later offer is the midpoint between its own last offer and the other's last offer, but
    never worse than V. It accepts an offer at least as good as the midpoint it would propose
    next, or within ``tolerance``·money of it (people close a small gap rather than haggle over
    crumbs; without it two such players would halve the gap forever), never one worse than V.
    """

    name = "negotiation/split-the-difference"

    def __init__(self, anchor: float = 0.2, tolerance: float = 0.01) -> None:
        super().__init__()
        if not (isinstance(anchor, int | float) and anchor >= 0.0):
            raise ValueError(f"anchor must be a number >= 0, got {anchor!r}")
        if not (isinstance(tolerance, int | float) and tolerance >= 0.0):
            raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")
        self.anchor, self.tolerance = float(anchor), float(tolerance)

    def proposal(self, observation: Any, is_seller: bool, own: float) -> float:
        if _next_offer_index(observation, is_seller) == 0:
            return _opening(own, self.anchor, is_seller)
        midpoint = (observation["own_offer"].item() + observation["offer"].item()) / 2.0
        return max(midpoint, own) if is_seller else min(midpoint, own)


def _action(decision: int, price: float) -> dict[str, Any]:
    array = np.array([price], dtype=np.float64)
    array.flags.writeable = False
    return {"decision": decision, "price": array, "message": ""}


def _equilibrium(env: Any, *, seed: int) -> EquilibriumPlayer:
    return EquilibriumPlayer()


def _anchoring(
    env: Any, *, seed: int, anchor: float = 0.5, concession: float = 0.25
) -> AnchoringPlayer:
    return AnchoringPlayer(anchor=anchor, concession=concession)


def _split_the_difference(
    env: Any, *, seed: int, anchor: float = 0.2, tolerance: float = 0.01
) -> SplitTheDifferencePlayer:
    return SplitTheDifferencePlayer(anchor=anchor, tolerance=tolerance)


register_policy(
    EquilibriumPlayer.name,
    _equilibrium,
    envs=(ENV_ID,),
    summary="subgame-perfect play: the last proposer's extreme price, no trade without surplus",
)
register_policy(
    AnchoringPlayer.name,
    _anchoring,
    envs=(ENV_ID,),
    summary="ambitious first offer, then geometric concessions to its value (anchor, concession)",
)
register_policy(
    SplitTheDifferencePlayer.name,
    _split_the_difference,
    envs=(ENV_ID,),
    summary="opens at anchor, then offers the midpoint of the last two offers (anchor, tolerance)",
)
