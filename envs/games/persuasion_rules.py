"""The persuasion game's vocabulary and its Bayesian-persuasion benchmark (Kamenica-Gentzkow 2011).

Shared by the env, its text protocol and the scripted players: plain constants and pure functions.
Prices are normalised to 1: the buyer values a high-quality product at v and a low-quality one at
c < 1 < v, and buys iff its posterior probability of high quality μ satisfies μv + (1-μ)c >= 1.
"""

from __future__ import annotations

SELLER = "seller_0"
BUYER = "buyer_0"
AGENTS = (SELLER, BUYER)

NO, YES = 0, 1
"""Values of the seller's ``recommend`` and of the buyer's ``decision`` (1: buy)."""

UNKNOWN = -1
"""History entries not (yet) known to the observer: future rounds, or everything for a myopic
buyer; ``last_bought`` before the first round ends."""

MESSAGE_TYPES = ("binary", "text")
BUYER_MEMORIES = ("long", "myopic")

POSTERIOR_TOLERANCE = 1e-9
"""Slack when comparing a posterior with the buy threshold: the commitment policy makes the
buyer exactly indifferent, and an indifferent buyer buys."""


def buy_threshold(value_high: float, value_low: float = 0.0) -> float:
    """The least posterior μ at which buying pays: μv + (1-μ)c >= 1, i.e. μ >= (1-c)/(v-c)."""
    return (1.0 - value_low) / (value_high - value_low)


def commitment_probability(p_high: float, value_high: float, value_low: float = 0.0) -> float:
    """q: the probability with which the optimal committed seller recommends a low-quality item.

    Recommending every high item and a low one with probability q makes a recommended buyer's
    posterior p/(p + (1-p)q); the largest q that keeps it at the threshold is
    min{p(v-1) / ((1-p)(1-c)), 1}, which is games.md's min{p(v-1)/(1-p), 1} when c = 0.
    """
    if p_high >= 1.0:
        return 1.0
    return min(p_high * (value_high - 1.0) / ((1.0 - p_high) * (1.0 - value_low)), 1.0)


def commitment_sale_rate(p_high: float, value_high: float, value_low: float = 0.0) -> float:
    """The committed seller's value, P(sale) = p + (1-p)q = min(1, p(v-c)/(1-c)): min(1, pv)
    when c = 0."""
    return min(1.0, p_high * (value_high - value_low) / (1.0 - value_low))


def posterior_after_recommendation(p_high: float, q: float) -> float:
    """P(high | recommended) when every high item and a share q of low ones are recommended
    (0 when nothing is ever recommended)."""
    recommended = p_high + (1.0 - p_high) * q
    return p_high / recommended if recommended > 0.0 else 0.0


def episode_metrics(
    played: int,
    high_rounds: int,
    high_sold: int,
    sold: int,
    p_high: float,
    value_high: float,
    value_low: float,
) -> dict[str, float | None]:
    """The final ``info["metrics"]`` after ``played`` rounds (T), ``high_rounds`` (n) of them of
    high quality, ``high_sold`` (k) high-quality items and ``sold`` items in all bought.

    The paper's definitions (games.md §4), with r the low-quality items not sold: sale rate
    sold/T, buyer gain [k(v-1) + (T-n-r)(c-1)]/T, efficiency k/n (None at n = 0), fairness
    r/(T-n) (None at n = T). The env and the GLEE importer both publish these, so logged and
    simulated games are measured alike.
    """
    low = played - high_rounds
    low_sold = sold - high_sold
    low_kept = low - low_sold  # r
    sale_rate = sold / played
    commitment = commitment_sale_rate(p_high, value_high, value_low)
    buyer_gain = high_sold * (value_high - 1.0) + low_sold * (value_low - 1.0)
    return {
        "sales": float(sold),
        "high_rounds": float(high_rounds),
        "sale_rate": sale_rate,
        "self_gain_seller": sale_rate,
        "self_gain_buyer": buyer_gain / played,
        "efficiency": high_sold / high_rounds if high_rounds else None,
        "fairness": low_kept / low if low else None,
        "commitment_sale_rate": commitment,
        "regret_sale_rate": abs(sale_rate - commitment),
    }
