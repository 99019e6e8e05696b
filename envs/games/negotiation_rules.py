"""The negotiation game's vocabulary, its price bounds and its theory (games.md §2.2, §4, §6.3).

Shared by the env, its text protocol and the scripted players: plain constants and pure functions.
The seller (GLEE's Alice) values the good at V_A and offers in odd rounds; the buyer (Bob) values
it at V_B and offers in even rounds. Prices and values are in money units.
"""

from __future__ import annotations

SELLER = "seller_0"
BUYER = "buyer_0"
AGENTS = (SELLER, BUYER)
NAMES = {SELLER: "Seller", BUYER: "Buyer"}
OTHER = {SELLER: BUYER, BUYER: SELLER}

OFFER, ACCEPT, REJECT, OUTSIDE = 0, 1, 2, 3
"""Values of an action's ``decision``; `OUTSIDE` takes the outside option (no trade, worth 0)."""

PROPOSE, RESPOND = 0, 1
"""Values of an observation's ``phase``: an offer is awaited, or a response to one."""

ANNOUNCE_LIMIT = 20
"""GLEE's rule: the horizon is announced iff it is at most this many rounds."""

UNBOUNDED_HORIZON = 30
"""GLEE's "T = ∞" negotiation: an unannounced cap of 30 rounds."""

PRICE_CAP_MONEY = 10.0
PRICE_CAP_VALUE = 2.0
"""Prices lie in [0, max(10·money, 2·V_A, 2·V_B)]: a cap of 10·money whenever both value factors
are at most 5 (all of GLEE's grid), so the bound says nothing about the other's value there."""

PRICE_TOLERANCE = 1e-12
"""Relative slack for comparing prices and values (float64 arithmetic), see `slack`."""


def price_cap(money: float, seller_value: float, buyer_value: float) -> float:
    """The highest price an offer may name: max(10·money, 2·V_A, 2·V_B)."""
    return max(
        PRICE_CAP_MONEY * money, PRICE_CAP_VALUE * seller_value, PRICE_CAP_VALUE * buyer_value
    )


def slack(*amounts: float) -> float:
    """How far apart two of these (non-negative) amounts may be and still count as equal, given
    float64 rounding."""
    return PRICE_TOLERANCE * max(amounts)


def proposer_of(round_: int) -> str:
    """Who proposes in 1-based round ``round_``: the seller in odd rounds, the buyer in even."""
    return SELLER if round_ % 2 else BUYER


def spe_price(seller_value: float, buyer_value: float, horizon: int) -> float | None:
    """The subgame-perfect price when values and the horizon T are common knowledge.

    Without discounting the last proposer takes the whole surplus and the first proposer offers
    that price at once: V_B when T is odd (the seller proposes last), V_A when T is even. None
    without gains from trade (V_B <= V_A), where no trade is the outcome.
    """
    if buyer_value <= seller_value:
        return None
    return buyer_value if horizon % 2 else seller_value


def efficiency(seller_value: float, buyer_value: float, price: float | None) -> float:
    """The paper's efficiency: 1 iff (V_A >= V_B and no trade) or (trade at V_A <= p <= V_B).

    ``price`` is None without trade; p is compared with `slack` (float64 rounding).
    """
    if price is None:
        return 1.0 if seller_value >= buyer_value else 0.0
    tolerance = slack(seller_value, buyer_value, price)
    return 1.0 if seller_value - tolerance <= price <= buyer_value + tolerance else 0.0


def fairness(seller_value: float, buyer_value: float, price: float | None, money: float) -> float:
    """The paper's fairness 1 - 4((p - p_f)/M)² with p_f = (V_A + V_B)/2; 1 without trade.

    Negative for prices far from the midpoint (rare in GLEE's games).
    """
    if price is None:
        return 1.0
    midpoint = (seller_value + buyer_value) / 2.0
    return 1.0 - 4.0 * ((price - midpoint) / money) ** 2


def episode_metrics(
    seller_value: float,
    buyer_value: float,
    money: float,
    price: float | None,
    outside: bool,
    round_: int,
    horizon: int,
    known: bool,
) -> dict[str, float | None]:
    """The final ``info["metrics"]`` of a game that ended in round ``round_`` with a trade at
    ``price`` (None: no trade; ``outside``: someone took the outside option).

    The paper's definitions (games.md §4); ``known``: complete information and an announced
    horizon, the only case with a subgame-perfect price. The env and the GLEE importer both
    publish these, so logged and simulated games are measured alike.
    """
    spe = spe_price(seller_value, buyer_value, horizon) if known else None
    trade = price is not None
    return {
        "trade": float(trade),
        "outside_option": float(outside),
        "round": float(round_),
        "price": price,
        "self_gain_seller": (price - seller_value) / money if trade else 0.0,
        "self_gain_buyer": (buyer_value - price) / money if trade else 0.0,
        # The paper's rule compares values exactly; prices are compared with float64 slack.
        "efficiency": efficiency(seller_value, buyer_value, price),
        "fairness": fairness(seller_value, buyer_value, price, money),
        "spe_price": spe,
        "regret_price": None if spe is None or price is None else abs(price - spe) / money,
    }
