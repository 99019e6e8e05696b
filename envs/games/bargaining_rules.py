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
