"""The markets an episode runs on: built once per configuration, each day's demand, and the
review a customer leaves after paying (`envs.marketplace.env`)."""

from __future__ import annotations

import dataclasses
import functools

from envs.core.seeding import child_rng
from envs.marketplace.baselines import optimal_welfare
from envs.marketplace.generator import build_market
from envs.marketplace.ledger import Proposal
from envs.marketplace.market import Market
from envs.marketplace.outcomes import satisfies
from envs.marketplace.search import SearchIndex


@functools.lru_cache(maxsize=4)
def market_bundle(
    design: str, n_customers: int, domain: str, seed: int, condition: str, manipulator: int
) -> tuple[Market, SearchIndex, float]:
    """A market with its search index and optimal welfare, built once per configuration.

    A plain progenitor market under the control condition has no manipulator (-1); the study
    designs keep theirs under control too, as the baseline of its payments."""
    if design == "progenitor" and condition == "control":
        manipulator = -1
    market = build_market(
        design, n_customers, domain, seed, condition=condition, manipulator=manipulator
    )
    return market, SearchIndex(market), optimal_welfare(market)


def day_market(market: Market, day: int, seed: int) -> Market:
    """Day ``day``'s demand (multi-day mode): every customer takes over another customer's order,
    by a seeded permutation, so each order still has the businesses generated for it. Budgets keep
    their ratio to value."""
    if day == 0:
        return market
    order = child_rng(seed, "demand", day).permutation(len(market.customers))
    customers = []
    for customer, source in zip(market.customers, order, strict=True):
        other = market.customers[int(source)]
        ratio = customer.budget / customer.value if customer.value else 1.0
        customers.append(
            dataclasses.replace(
                other, index=customer.index, name=customer.name, budget=ratio * other.value
            )
        )
    return dataclasses.replace(market, customers=tuple(customers))


def review_of(market: Market, proposal: Proposal) -> tuple[int, str]:
    """A customer's stars and words after paying: 1 when the purchase missed its needs, else 5
    less one star per 10% paid above its value (at least 2)."""
    customer = market.customers[proposal.customer]
    if not satisfies(market, proposal):
        return 1, "Did not get what I needed here."
    over = (proposal.total - customer.value) / customer.value if customer.value else 0.0
    stars = int(max(2, 5 - max(0, int(over * 10 + 0.5))))
    words = {5: "Exactly what I asked for, fair price.", 4: "Good, a little pricey."}
    return stars, words.get(stars, "Got my order but paid too much.")
