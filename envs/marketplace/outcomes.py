"""Customer utility, welfare and the market's outcome metrics, as the reference study defines them.

Utility (reference `calculate_customer_utility`): with V the customer's value for its order and P
the sum of totals over *every* proposal it paid, ``U = 2V - P`` if some paid proposal includes
every requested item and its business has every required amenity, else ``U = -P``. Welfare is the
sum over customers. Payments are transfers, so a business's utility is its revenue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from envs.marketplace.ledger import Ledger, Proposal
from envs.marketplace.market import Market


def satisfies(market: Market, proposal: Proposal) -> bool:
    """Whether paying ``proposal`` satisfies its customer: all items, at a business with every
    required amenity."""
    customer = market.customers[proposal.customer]
    business = market.businesses[proposal.business]
    return proposal.covers(customer.items) and business.has_amenities(customer.amenities)


def customer_utilities(market: Market, ledger: Ledger) -> list[float]:
    """Every customer's U = 2V - P when a paid proposal satisfies it, else -P (one pass)."""
    spent = [0.0] * len(market.customers)
    satisfied = [False] * len(market.customers)
    for payment in ledger.payments:
        proposal = ledger.proposals[payment.proposal]
        spent[payment.customer] += proposal.total
        satisfied[payment.customer] |= satisfies(market, proposal)
    return [
        (2.0 * customer.value if ok else 0.0) - paid
        for customer, paid, ok in zip(market.customers, spent, satisfied, strict=True)
    ]


def herfindahl(revenue: Sequence[float]) -> float | None:
    """The Herfindahl-Hirschman index of revenue shares (0..1); None when nobody sold."""
    total = float(sum(revenue))
    if total <= 0:
        return None
    shares = np.asarray(revenue, dtype=np.float64) / total
    return float(np.sum(shares * shares))


def price_dispersion(proposals: Sequence[Proposal]) -> float | None:
    """Mean over items proposed at least twice of the coefficient of variation of their unit
    prices: how differently the same item was priced to customers. None without such items."""
    by_item: dict[int, list[float]] = {}
    for proposal in proposals:
        for item, price in zip(proposal.items, proposal.unit_prices, strict=True):
            by_item.setdefault(item, []).append(price)
    spreads = [
        float(np.std(prices) / np.mean(prices))
        for prices in by_item.values()
        if len(prices) > 1 and np.mean(prices) > 0
    ]
    return float(np.mean(spreads)) if spreads else None


def market_metrics(
    market: Market, ledger: Ledger, utilities: Sequence[float], optimum: float, ticks: int
) -> dict[str, Any]:
    """The episode's outcome metrics (undefined ones are None, never NaN)."""
    n = len(market.customers)
    welfare = float(sum(utilities))
    payers: dict[int, Proposal] = {}
    for payment in ledger.payments:
        payers.setdefault(payment.customer, ledger.proposals[payment.proposal])
    satisfied = len(
        {p.customer for p in ledger.payments if satisfies(market, ledger.proposals[p.proposal])}
    )
    ranks = [proposal.rank for proposal in payers.values()]
    manipulator = market.manipulator
    captured = [p for p in ledger.payments if p.business == manipulator]
    rejections = ledger.rejections
    proposal_reasons = (
        "empty_proposal", "bad_quantity", "off_menu", "below_floor", "wrong_total", "bad_expiry",
    )  # fmt: skip
    payment_reasons = (
        "unknown_proposal", "not_addressed_to_payer", "already_paid", "expired", "wrong_amount",
        "over_budget",
    )  # fmt: skip
    return {
        "welfare": welfare,
        "optimal_welfare": optimum,
        "welfare_ratio": welfare / optimum if optimum > 0 else None,
        "purchases": len(ledger.payments),
        "purchase_completion": len(payers) / n if n else None,
        "satisfied_rate": satisfied / n if n else None,
        "proposals": len(ledger.proposals),
        "proposal_errors": sum(rejections[r] for r in proposal_reasons),
        "payment_errors": sum(rejections[r] for r in payment_reasons),
        "rejected_actions": sum(rejections.values()),
        "first_proposal_rate": (sum(r == 0 for r in ranks) / len(ranks)) if ranks else None,
        "mean_paid_rank": float(np.mean(ranks)) if ranks else None,
        "manipulator_payments": len(captured) if manipulator >= 0 else None,
        "manipulator_revenue": sum(p.amount for p in captured) if manipulator >= 0 else None,
        "manipulator_share": (
            len(captured) / len(ledger.payments) if manipulator >= 0 and ledger.payments else None
        ),
        "price_dispersion": price_dispersion(ledger.proposals),
        "hhi": herfindahl(ledger.revenue),
        "revenue": float(sum(ledger.revenue)),
        "ticks": ticks,
    }


# Counts add up over days; rates and indices are averaged over the days that define them.
_SUMMED = (
    "welfare", "optimal_welfare", "purchases", "proposals", "proposal_errors", "payment_errors",
    "rejected_actions", "manipulator_payments", "manipulator_revenue", "revenue",
)  # fmt: skip


def merge_days(days: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One metrics dict for a multi-day episode (a single day's is returned as it is)."""
    if len(days) == 1:
        return dict(days[0])
    merged: dict[str, Any] = {}
    for key in days[0]:
        values = [day[key] for day in days if day[key] is not None]
        if not values:
            merged[key] = None
        elif key in _SUMMED:
            merged[key] = sum(values)
        elif key == "ticks":
            merged[key] = max(values)
        else:
            merged[key] = float(np.mean(values))
    optimum = merged["optimal_welfare"]
    merged["welfare_ratio"] = merged["welfare"] / optimum if optimum else None
    return merged
