"""Welfare baselines of a market (reference section 6), computed without any agent.

A customer buying its order from business ``b`` at list prices pays ``P = b.order_price(items)``
and gets ``U = 2V - P`` when ``b`` carries every item and has every required amenity, else ``-P``;
welfare is the sum over customers, and customers with no candidate contribute 0. Baselines:

* optimal: the cheapest feasible business for everyone;
* pick_cheapest: the cheapest business carrying the order, amenities ignored (ties: lowest index);
* random_with_amenities: a uniformly random feasible business;
* random: a uniformly random business carrying the order, amenities ignored.

The random ones are reported as median and mean over seeded draws (the reference reports medians
of 1,000) and as the exact expectation. An item -> businesses index keeps 10,000/30,000 fast.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.core.seeding import child_rng
from envs.marketplace.market import Market

_CHUNK_CELLS = 1 << 21
"""Draw x customer cells per vectorised chunk (bounds memory at about 50 MiB)."""


@dataclass(frozen=True)
class Offers:
    """Every customer's candidates (businesses carrying its whole order) with their utilities.

    Flat arrays with ``offsets``: customer ``c``'s candidates are ``business[offsets[c]:
    offsets[c + 1]]`` in index order, with ``price``, ``feasible`` and ``utility`` alongside.
    """

    offsets: np.ndarray
    business: np.ndarray
    price: np.ndarray
    feasible: np.ndarray
    utility: np.ndarray

    def of(self, customer: int) -> slice:
        return slice(int(self.offsets[customer]), int(self.offsets[customer + 1]))


def offers(market: Market) -> Offers:
    """The candidates of every customer, from an inverted item -> businesses index."""
    carriers: dict[int, list[int]] = {}
    for position, business in enumerate(market.businesses):
        for item in business.menu:
            carriers.setdefault(item, []).append(position)
    offsets = [0]
    flat: list[int] = []
    prices: list[float] = []
    feasible: list[bool] = []
    utility: list[float] = []
    for customer in market.customers:
        lists = sorted((carriers.get(item, []) for item in customer.items), key=len)
        found = set(lists[0]) if lists else set()
        for other in lists[1:]:
            found.intersection_update(other)
        value = customer.value
        for position in sorted(found):
            business = market.businesses[position]
            price = business.order_price(customer.items)
            ok = business.has_amenities(customer.amenities)
            flat.append(position)
            prices.append(price)
            feasible.append(ok)
            utility.append(2.0 * value - price if ok else -price)
        offsets.append(len(flat))
    return Offers(
        offsets=np.asarray(offsets, dtype=np.int64),
        business=np.asarray(flat, dtype=np.int64),
        price=np.asarray(prices, dtype=np.float64),
        feasible=np.asarray(feasible, dtype=bool),
        utility=np.asarray(utility, dtype=np.float64),
    )


def _groups(found: Offers, amenities: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(utilities, offsets, counts) of each customer's choice set, customers without one dropped."""
    keep = found.feasible if amenities else np.ones(len(found.utility), dtype=bool)
    owner = np.repeat(np.arange(len(found.offsets) - 1), np.diff(found.offsets))
    counts = np.bincount(owner[keep], minlength=len(found.offsets) - 1)
    utilities = found.utility[keep]
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    present = counts > 0
    return utilities, offsets[present], counts[present]


def random_welfare_draws(
    market: Market,
    draws: int = 1000,
    seed: int = 0,
    *,
    amenities: bool,
    found: Offers | None = None,
) -> np.ndarray:
    """``draws`` welfare totals when every customer picks uniformly among its candidates
    (feasible ones when ``amenities``). Seeded; vectorised over draws and customers."""
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 1:
        raise ValueError(f"draws must be an int >= 1, got {draws!r}")
    found = offers(market) if found is None else found
    utilities, offsets, counts = _groups(found, amenities)
    rng = child_rng(seed, "baselines", "random_with_amenities" if amenities else "random")
    totals = np.zeros(int(draws), dtype=np.float64)
    if len(counts) == 0:
        return totals
    step = max(1, _CHUNK_CELLS // len(counts))
    for start in range(0, int(draws), step):
        stop = min(start + step, int(draws))
        u = rng.random((stop - start, len(counts)))
        pick = np.minimum((u * counts).astype(np.int64), counts - 1)
        totals[start:stop] = utilities[offsets + pick].sum(axis=1)
    return totals


def _exact(found: Offers, amenities: bool) -> float:
    utilities, offsets, counts = _groups(found, amenities)
    if len(counts) == 0:
        return 0.0
    sums = np.add.reduceat(utilities, offsets)
    return float((sums / counts).sum())


@dataclass(frozen=True)
class Baselines:
    """Welfare totals of the reference baselines for one market (see the module docstring)."""

    optimal: float
    pick_cheapest: float
    random_with_amenities_median: float
    random_with_amenities_mean: float
    random_with_amenities_mean_exact: float
    random_median: float
    random_mean: float
    random_mean_exact: float
    draws: int
    seed: int
    no_candidate: int
    """Customers no business carries (they contribute 0 everywhere)."""
    no_feasible: int
    """Customers with no feasible business (0 in optimal and random_with_amenities)."""


def optimal_welfare(market: Market) -> float:
    """The optimal baseline alone: everyone buys from its cheapest feasible business."""
    found = offers(market)
    total = 0.0
    for c in range(len(market.customers)):
        part = found.of(c)
        feasible = found.feasible[part]
        if feasible.any():
            total += float(found.utility[part][feasible].max())
    return total


def compute_baselines(market: Market, draws: int = 1000, seed: int = 0) -> Baselines:
    """The four baselines; the random ones over ``draws`` draws seeded by ``seed``."""
    found = offers(market)
    optimal = pick_cheapest = 0.0
    no_candidate = no_feasible = 0
    for c in range(len(market.customers)):
        part = found.of(c)
        prices = found.price[part]
        if len(prices) == 0:
            no_candidate += 1
            no_feasible += 1
            continue
        pick_cheapest += float(found.utility[part][np.argmin(prices)])
        feasible = found.feasible[part]
        if feasible.any():
            optimal += float(found.utility[part][feasible].max())
        else:
            no_feasible += 1
    picky = random_welfare_draws(market, draws, seed, amenities=True, found=found)
    anything = random_welfare_draws(market, draws, seed, amenities=False, found=found)
    return Baselines(
        optimal=optimal,
        pick_cheapest=pick_cheapest,
        random_with_amenities_median=float(np.median(picky)),
        random_with_amenities_mean=float(picky.mean()),
        random_with_amenities_mean_exact=_exact(found, True),
        random_median=float(np.median(anything)),
        random_mean=float(anything.mean()),
        random_mean_exact=_exact(found, False),
        draws=int(draws),
        seed=int(seed),
        no_candidate=no_candidate,
        no_feasible=no_feasible,
    )


def welfare_of_choices(market: Market, choices: Sequence[int | None]) -> float:
    """Welfare when customer ``c`` buys its whole order at list prices from ``choices[c]``
    (``None``: no purchase, 0). A business that does not carry the order is an error."""
    n = len(market.customers)
    if len(choices) != n:
        raise ValueError(f"choices must have one entry per customer ({n}), got {len(choices)}")
    total = 0.0
    for customer, choice in zip(market.customers, choices, strict=True):
        if choice is None:
            continue
        ok = isinstance(choice, numbers.Integral) and not isinstance(choice, bool)
        if not ok or not 0 <= choice < len(market.businesses):
            raise ValueError(
                f"choices[{customer.index}] must be None or a business index in "
                f"[0, {len(market.businesses) - 1}], got {choice!r}"
            )
        business = market.businesses[int(choice)]
        if not business.carries(customer.items):
            raise ValueError(
                f"choices[{customer.index}]: business {int(choice)} does not carry every item "
                f"of customer {customer.index}'s order"
            )
        price = business.order_price(customer.items)
        feasible = business.has_amenities(customer.amenities)
        total += 2.0 * customer.value - price if feasible else -price
    return total
