"""Scripted players of `mercato/Persuasion-v0`: the committed and the truthful seller, and three
buyers (Bayesian, credulous, sceptical).

Each acts by arithmetic on its observation and returns shared, read-only action dicts, so a
policy allocates almost nothing per decision; do not mutate returned actions. Sellers play
`seller_0` and buyers `buyer_0`; the other seat raises ValueError.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from envs.games.persuasion_rules import (
    BUYER,
    NO,
    POSTERIOR_TOLERANCE,
    SELLER,
    YES,
    buy_threshold,
    commitment_probability,
    posterior_after_recommendation,
)

ENV_ID = "mercato/Persuasion-v0"
RECOMMEND_TEXT = "I recommend buying this product."
DISCOURAGE_TEXT = "I do not recommend buying this product."

_RECOMMEND = {"recommend": YES, "message": RECOMMEND_TEXT}
_DISCOURAGE = {"recommend": NO, "message": DISCOURAGE_TEXT}
_BUY = {"decision": YES, "message": ""}
_PASS = {"decision": NO, "message": ""}


def _check_seat(player: BatchPolicy, agent: str, seat: str) -> None:
    if agent != seat:
        raise ValueError(f"{player.name} plays {seat}, not {agent}")


def _values(observation: Any) -> tuple[float, float, float]:
    """(p, v, c) as the observation states them."""
    return (
        observation["p_high"].item(),
        observation["value_high"].item(),
        observation["value_low"].item(),
    )


class CommitmentSeller(BatchPolicy):
    """Kamenica and Gentzkow's optimal committed seller: recommends every high-quality item and
    a low-quality one with probability q = min{p(v-1)/((1-p)(1-c)), 1} (games.md §6.4 at c = 0),
    which leaves a recommended Bayesian buyer just willing to buy and sells with probability
    min(1, p(v-c)/(1-c)).

    When the seller does not know v (incomplete information) it assumes ``assumed_value``
    (default 1.25, GLEE's default buyer). Its lotteries come from a generator seeded with the
    factory's seed, so it is reproducible but not reusable across episodes. In text mode its
    message just restates the recommendation.
    """

    name = "persuasion/commitment"

    def __init__(self, seed: int = 0, assumed_value: float = 1.25) -> None:
        if not assumed_value > 1.0:
            raise ValueError(f"assumed_value must be > 1, got {assumed_value!r}")
        self.assumed_value = assumed_value
        self._rng = np.random.default_rng(seed)
        self._q: dict[tuple[float, float, float], float] = {}

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        _check_seat(self, agent, SELLER)
        if observation["quality_high"]:
            return _RECOMMEND
        p_high, value_high, value_low = _values(observation)
        if not observation["value_known"]:
            value_high = self.assumed_value
        key = (p_high, value_high, value_low)
        q = self._q.get(key)
        if q is None:
            q = self._q[key] = commitment_probability(p_high, value_high, value_low)
        return _RECOMMEND if self._rng.random() < q else _DISCOURAGE


class TruthfulSeller(BatchPolicy):
    """Recommends exactly the high-quality items: full disclosure, the honest benchmark."""

    name = "persuasion/truthful"
    reusable = True

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        _check_seat(self, agent, SELLER)
        return _RECOMMEND if observation["quality_high"] else _DISCOURAGE


class BayesianBuyer(BatchPolicy):
    """The best response to the committed seller: believes every high item and a share q of low
    ones are recommended, so a recommendation moves its belief to μ = p / (p + (1-p)q), and buys
    iff μv + (1-μ)c >= 1 (indifference buys). Against the committed seller it thus buys on every
    recommendation and never without one; it ignores the history (it trusts the commitment).
    """

    name = "persuasion/bayesian"
    reusable = True

    def __init__(self) -> None:
        self._buys: dict[tuple[float, float, float], bool] = {}

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        _check_seat(self, agent, BUYER)
        if not observation["recommendation"]:
            return _PASS  # the committed seller recommends every high item: this one is low
        key = _values(observation)
        buys = self._buys.get(key)
        if buys is None:
            p_high, value_high, value_low = key
            q = commitment_probability(p_high, value_high, value_low)
            posterior = posterior_after_recommendation(p_high, q)
            threshold = buy_threshold(value_high, value_low)
            buys = self._buys[key] = posterior >= threshold - POSTERIOR_TOLERANCE
        return _BUY if buys else _PASS


class CredulousBuyer(BatchPolicy):
    """Buys whenever the seller recommends (in text mode: the recommendation its message carries),
    whatever the history: the buyer cheap talk fools most."""

    name = "persuasion/credulous"
    reusable = True

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        _check_seat(self, agent, BUYER)
        return _BUY if observation["recommendation"] else _PASS


class ScepticalBuyer(BatchPolicy):
    """Trusts recommendations only as far as they have proved right: on a recommendation it buys
    iff the empirical share of high quality among the items that came with one, estimated from
    what it remembers, is at least the buy threshold (1-c)/(v-c) (1/v at c = 0); it never buys
    without a recommendation.

    A long-lived buyer counts the recommended rounds in its history (every quality is revealed,
    bought or not); a myopic one sees only the counts of items sold and of high-quality items
    sold, so it uses their ratio. With no evidence yet it uses the prior p; so at p below the
    threshold a myopic sceptic never buys, and so never learns.
    """

    name = "persuasion/sceptical"
    reusable = True

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        _check_seat(self, agent, BUYER)
        if not observation["recommendation"]:
            return _PASS
        p_high, value_high, value_low = _values(observation)
        if observation["long_memory"]:
            played = observation["played"]
            recommended = observation["history_recommended"][:played] == YES
            evidence = int(np.count_nonzero(recommended))
            good = int(np.count_nonzero(observation["history_quality"][:played][recommended]))
        else:
            evidence, good = observation["sold"], observation["high_sold"]
        share = good / evidence if evidence else p_high
        threshold = buy_threshold(value_high, value_low)
        return _BUY if share >= threshold - POSTERIOR_TOLERANCE else _PASS


def _commitment(env: Any, *, seed: int, assumed_value: float = 1.25) -> CommitmentSeller:
    return CommitmentSeller(seed=seed, assumed_value=assumed_value)


def _truthful(env: Any, *, seed: int) -> TruthfulSeller:
    return TruthfulSeller()


def _bayesian(env: Any, *, seed: int) -> BayesianBuyer:
    return BayesianBuyer()


def _credulous(env: Any, *, seed: int) -> CredulousBuyer:
    return CredulousBuyer()


def _sceptical(env: Any, *, seed: int) -> ScepticalBuyer:
    return ScepticalBuyer()


register_policy(
    CommitmentSeller.name,
    _commitment,
    envs=(ENV_ID,),
    summary="seller: Kamenica-Gentzkow commitment, recommends low items with probability q "
    "(assumed_value when v is unknown)",
)
register_policy(
    TruthfulSeller.name,
    _truthful,
    envs=(ENV_ID,),
    summary="seller: recommends exactly the high-quality items",
)
register_policy(
    BayesianBuyer.name,
    _bayesian,
    envs=(ENV_ID,),
    summary="buyer: best response to the committed seller (buys iff posterior >= threshold)",
)
register_policy(
    CredulousBuyer.name,
    _credulous,
    envs=(ENV_ID,),
    summary="buyer: buys on every recommendation",
)
register_policy(
    ScepticalBuyer.name,
    _sceptical,
    envs=(ENV_ID,),
    summary="buyer: buys on a recommendation iff recommendations have proved right often enough",
)
