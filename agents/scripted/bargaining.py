"""Scripted players of `mercato/Bargaining-v0`: the subgame-perfect player and two heuristics.

Each acts by arithmetic on its observation. Responses and repeated offers are shared, read-only
action dicts, so a policy allocates almost nothing per decision; do not mutate returned actions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from envs.games.bargaining_rules import (
    ACCEPT,
    ALICE,
    OFFER,
    PROPOSE,
    REJECT,
    SHARE_TOLERANCE,
    backward_induction_shares,
    rubinstein_share,
)

ENV_ID = "mercato/Bargaining-v0"


class BargainingPlayer(BatchPolicy):
    """Base of the scripted players: subclasses say what share of the money they ask for now
    (`demand`) and the least they accept now (`accept_threshold`, by default the demand).

    Shares are compared with `SHARE_TOLERANCE` of slack (float64 rounding).
    Deterministic and memoryless across episodes, so the engine shares one per seat.
    """

    reusable = True

    def __init__(self) -> None:
        self._offers: dict[bool, dict[float, dict[str, Any]]] = {True: {}, False: {}}
        self._accept = _action(ACCEPT, 0.0)
        self._reject = _action(REJECT, 0.0)

    def demand(self, observation: Any, is_alice: bool) -> float:
        """The share of the money this player asks for in the current round."""
        raise NotImplementedError

    def accept_threshold(self, observation: Any, is_alice: bool) -> float:
        """The least share this player accepts in the current round."""
        return self.demand(observation, is_alice)

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        is_alice = agent == ALICE
        if observation["phase"] == PROPOSE:
            return self._offer(is_alice, self.demand(observation, is_alice))
        alice_share = observation["offer"].item()
        own_share = alice_share if is_alice else 1.0 - alice_share
        threshold = self.accept_threshold(observation, is_alice)
        return self._accept if own_share >= threshold - SHARE_TOLERANCE else self._reject

    def _offer(self, is_alice: bool, own_share: float) -> dict[str, Any]:
        cache = self._offers[is_alice]
        action = cache.get(own_share)
        if action is None:
            action = cache[own_share] = _action(OFFER, own_share if is_alice else 1.0 - own_share)
        return action


class EquilibriumPlayer(BargainingPlayer):
    """The subgame-perfect player, computed from what it observes.

    Announced horizon T: backward induction from the current round (`backward_induction_shares`).
    Unannounced: Rubinstein's infinite-horizon shares. Under incomplete information it assumes the
    other's discount equals its own. As proposer it asks for its equilibrium share; as responder
    it accepts iff its share now is worth at least what proposing next round is worth to it now
    (so anything in the announced last round). With both discounts 1 and no announced horizon
    every split is an equilibrium; it then asks for, and accepts, half.
    """

    name = "bargaining/equilibrium"

    def demand(self, observation: Any, is_alice: bool) -> float:
        horizon = observation["horizon"]
        if horizon:
            return _induction(observation, is_alice, horizon)[observation["round"] - 1]
        return _rubinstein(observation)

    def accept_threshold(self, observation: Any, is_alice: bool) -> float:
        horizon = observation["horizon"]
        round_ = observation["round"]
        if horizon and round_ >= horizon:
            return 0.0
        own = observation["own_discount"].item()
        if horizon:
            return own * _induction(observation, is_alice, horizon)[round_]
        return own * _rubinstein(observation)


def _discounts(observation: Any) -> tuple[float, float]:
    """(own, other) discount; the other is assumed equal to one's own when it is not known."""
    own = observation["own_discount"].item()
    if observation["other_discount_known"]:
        return own, observation["other_discount"].item()
    return own, own


def _rubinstein(observation: Any) -> float:
    """This player's infinite-horizon share as proposer (half when both discounts are 1)."""
    share = rubinstein_share(*_discounts(observation))
    return 0.5 if math.isnan(share) else share


def _induction(observation: Any, is_alice: bool, horizon: int) -> tuple[float, ...]:
    """The proposer's share in each round of the announced horizon."""
    own, other = _discounts(observation)
    if is_alice:
        return backward_induction_shares(own, other, horizon)
    return backward_induction_shares(other, own, horizon)


class EvenSplitPlayer(BargainingPlayer):
    """Always proposes 50/50 and accepts any offer giving it at least half: a fairness norm."""

    name = "bargaining/even-split"

    def demand(self, observation: Any, is_alice: bool) -> float:
        return 0.5


class LinearConcessionPlayer(BargainingPlayer):
    """A haggler on the game's clock: demands ``anchor`` of the money in round 1 and concedes
    linearly each round to ``floor`` in round ``rounds`` (then stays there). It offers its current
    demand and accepts iff an offer gives it at least that; two with ``floor`` 0.5 meet in round
    ``rounds``. Bob, who first proposes in round 2, starts one step down the same schedule.
    """

    name = "bargaining/linear-concession"

    def __init__(self, anchor: float = 0.9, floor: float = 0.5, rounds: int = 10) -> None:
        super().__init__()
        if not 0.0 <= floor <= anchor <= 1.0:
            raise ValueError(f"need 0 <= floor <= anchor <= 1, got floor={floor}, anchor={anchor}")
        if not (isinstance(rounds, int) and rounds >= 1):
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        self.anchor, self.floor, self.rounds = anchor, floor, rounds
        step = (anchor - floor) / max(rounds - 1, 1)
        # Demands in rounds 1..rounds; the last is exactly `floor`, free of rounding error.
        self._demands = [anchor - step * t for t in range(rounds - 1)] + [floor]

    def demand(self, observation: Any, is_alice: bool) -> float:
        round_ = observation["round"]
        return self._demands[round_ - 1] if round_ <= self.rounds else self.floor


def _action(decision: int, alice_share: float) -> dict[str, Any]:
    share = np.array([alice_share], dtype=np.float64)
    share.flags.writeable = False
    return {"decision": decision, "alice_share": share, "message": ""}


def _equilibrium(env: Any, *, seed: int) -> EquilibriumPlayer:
    return EquilibriumPlayer()


def _even_split(env: Any, *, seed: int) -> EvenSplitPlayer:
    return EvenSplitPlayer()


def _linear_concession(
    env: Any, *, seed: int, anchor: float = 0.9, floor: float = 0.5, rounds: int = 10
) -> LinearConcessionPlayer:
    return LinearConcessionPlayer(anchor=anchor, floor=floor, rounds=rounds)


register_policy(
    EquilibriumPlayer.name,
    _equilibrium,
    envs=(ENV_ID,),
    summary="subgame-perfect play from what it observes (Rubinstein / backward induction)",
)
register_policy(
    EvenSplitPlayer.name,
    _even_split,
    envs=(ENV_ID,),
    summary="proposes 50/50, accepts at least half",
)
register_policy(
    LinearConcessionPlayer.name,
    _linear_concession,
    envs=(ENV_ID,),
    summary="demands anchor, concedes linearly to floor over rounds (anchor, floor, rounds)",
)
