"""The bargaining game's vocabulary and its subgame-perfect shares (Rubinstein 1982).

Shared by the env, its text protocol and the scripted players: plain constants and pure functions.
Alice (player 1) proposes in odd rounds, Bob in even rounds; shares are Alice's (or the proposer's)
fraction of the money.
"""

from __future__ import annotations

import math
from functools import lru_cache

ALICE = "alice_0"
BOB = "bob_0"
AGENTS = (ALICE, BOB)
NAMES = {ALICE: "Alice", BOB: "Bob"}
OTHER = {ALICE: BOB, BOB: ALICE}

OFFER, ACCEPT, REJECT = 0, 1, 2
"""Values of an action's ``decision``."""

PROPOSE, RESPOND = 0, 1
"""Values of an observation's ``phase``: an offer is awaited, or a response to one."""

ANNOUNCE_LIMIT = 20
"""GLEE's rule: the horizon is announced iff it is at most this many rounds."""

SHARE_TOLERANCE = 1e-12
"""Slack for comparing shares (float64 arithmetic on offers and discounts)."""


def proposer_of(round_: int) -> str:
    """Who proposes in 1-based round ``round_``: Alice in odd rounds, Bob in even ones."""
    return ALICE if round_ % 2 else BOB


def rubinstein_share(delta_proposer: float, delta_responder: float) -> float:
    """The proposer's share in the infinite-horizon equilibrium, (1-δr)/(1-δp·δr).

    NaN when both discounts are 1: then every split is an equilibrium outcome.
    """
    denominator = 1.0 - delta_proposer * delta_responder
    if denominator <= 0.0:
        return math.nan
    return (1.0 - delta_responder) / denominator


@lru_cache(maxsize=1024)
def backward_induction_shares(
    delta_alice: float, delta_bob: float, horizon: int
) -> tuple[float, ...]:
    """Round t's proposer share x_t (index t-1) when the horizon T is known to both players.

    x_T = 1 (the last responder accepts anything), x_t = 1 - δ_responder(t)·x_{t+1}: the responder
    is offered exactly what proposing next round is worth to it now.
    """
    shares = [1.0] * horizon
    for round_ in range(horizon - 1, 0, -1):
        delta_responder = delta_bob if proposer_of(round_) == ALICE else delta_alice
        shares[round_ - 1] = 1.0 - delta_responder * shares[round_]
    return tuple(shares)


def spe_alice_share(delta_alice: float, delta_bob: float, horizon: int, announced: bool) -> float:
    """Alice's round-1 share in the subgame-perfect equilibrium the players can compute.

    Announced horizon: backward induction from T. Unannounced: Rubinstein's infinite-horizon share
    (NaN when both discounts are 1).
    """
    if announced:
        return backward_induction_shares(delta_alice, delta_bob, horizon)[0]
    return rubinstein_share(delta_alice, delta_bob)


def episode_metrics(
    deal: bool,
    round_: int,
    share: float | None,
    discount_alice: float,
    discount_bob: float,
    horizon: int,
    announced: bool,
) -> dict[str, float | None]:
    """The final ``info["metrics"]`` of a game that ended in round ``round_`` with a deal at
    Alice's share ``share``, or without one (``share`` is then ignored).

    The paper's definitions (games.md §4): gains δ^{t-1}·share, efficiency their sum, fairness
    1-4(p-1/2)²; no deal: gains 0, efficiency 0, fairness 1. The env and the GLEE importer both
    publish these, so logged and simulated games are measured alike.
    """
    spe = spe_alice_share(discount_alice, discount_bob, horizon, announced)
    spe_share = None if math.isnan(spe) else spe
    if not deal:
        return {
            "deal": 0.0,
            "round": float(round_),
            "alice_share": None,
            "self_gain_alice": 0.0,
            "self_gain_bob": 0.0,
            "efficiency": 0.0,
            "fairness": 1.0,
            "spe_alice_share": spe_share,
            "regret_alice_share": None,
        }
    delay = round_ - 1
    gain_alice = discount_alice**delay * share
    gain_bob = discount_bob**delay * (1.0 - share)
    return {
        "deal": 1.0,
        "round": float(round_),
        "alice_share": share,
        "self_gain_alice": gain_alice,
        "self_gain_bob": gain_bob,
        "efficiency": gain_alice + gain_bob,
        "fairness": 1.0 - 4.0 * (share - 0.5) ** 2,
        "spe_alice_share": spe_share,
        "regret_alice_share": None if spe_share is None else abs(share - spe_share),
    }
