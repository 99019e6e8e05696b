"""Welfare baselines: sanity, exact expectations, a hand-enumerated market, brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from envs.marketplace.baselines import (
    compute_baselines,
    random_welfare_draws,
    welfare_of_choices,
)
from envs.marketplace.generator import generate_market
from envs.marketplace.market import DOMAINS, Business, Customer, Domain, Market


def _business(index: int, menu: dict[int, float], amenities: set[int]) -> Business:
    return Business(
        index=index,
        name=f"Shop {index}",
        description="",
        rating=1.0,
        menu=menu,
        amenities=frozenset(amenities),
        progenitor=-1,
        min_price_factor=0.8,
    )


def _tiny_market(*, with_orphan: bool = False) -> Market:
    """Customer 0 wants item 0 with amenity 0 (V=10); customer 1 wants items 1 and 2 with
    amenity 1 (V=10). Utilities of their candidates (businesses carrying the whole order):
    customer 0: shop 0 -> 20-8 = 12, shop 1 (no amenity) -> -7, shop 2 -> 20-9 = 11;
    customer 1: shop 2 -> 20-8 = 12, shop 3 (no amenity) -> -6, shop 5 -> 20-10 = 10.
    Shop 4 carries only item 1. An orphan customer 2 wants item 3, which nobody sells."""
    domain = Domain(
        name="restaurants",
        items=("taco", "torta", "tamal", "flan"),
        item_prices=np.array([10.0, 5.0, 5.0, 4.0]),
        amenities=("patio", "delivery"),
    )
    customers = [
        Customer(0, "Ana", "", (0,), (0,), (10.0,), 30.0),
        Customer(1, "Ben", "", (1, 2), (1,), (5.0, 5.0), 30.0),
    ]
    if with_orphan:
        customers.append(Customer(2, "Cy", "", (3,), (0,), (4.0,), 12.0))
    businesses = (
        _business(0, {0: 8.0}, {0}),
        _business(1, {0: 7.0}, {1}),
        _business(2, {0: 9.0, 1: 4.0, 2: 4.0}, {0, 1}),
        _business(3, {1: 3.0, 2: 3.0}, {0}),
        _business(4, {1: 1.0}, {0, 1}),
        _business(5, {2: 5.0, 1: 5.0}, {1}),
    )
    return Market(domain, tuple(customers), businesses, seed=0, design="hand")


CANDIDATES = {0: {0: 12.0, 1: -7.0, 2: 11.0}, 1: {2: 12.0, 3: -6.0, 5: 10.0}}
FEASIBLE = {0: {0: 12.0, 2: 11.0}, 1: {2: 12.0, 5: 10.0}}


def _enumerate(choices: dict[int, dict[int, float]]) -> list[float]:
    return sorted(
        sum(combo) for combo in itertools.product(*(c.values() for c in choices.values()))
    )


def test_hand_built_market_matches_the_enumeration() -> None:
    market = _tiny_market()
    everything = _enumerate(CANDIDATES)  # 9 equally likely totals
    assert everything == [-13.0, 3.0, 5.0, 5.0, 6.0, 21.0, 22.0, 23.0, 24.0]
    draws = random_welfare_draws(market, 20_000, seed=1, amenities=False)
    assert set(np.round(draws, 9)) == set(everything)
    assert np.median(draws) == everything[4] == 6.0
    picky = random_welfare_draws(market, 20_000, seed=1, amenities=True)
    assert set(np.round(picky, 9)) == set(_enumerate(FEASIBLE))
    result = compute_baselines(market, draws=20_000, seed=1)
    assert result.random_median == 6.0
    assert result.random_mean_exact == pytest.approx(np.mean(everything))
    assert result.random_with_amenities_mean_exact == pytest.approx(22.5)
    assert result.optimal == 24.0
    assert result.pick_cheapest == -13.0  # shops 1 and 3 are cheapest and lack the amenity
    assert (result.no_candidate, result.no_feasible) == (0, 0)


def test_customers_without_candidates_contribute_nothing() -> None:
    base = compute_baselines(_tiny_market(), draws=500, seed=2)
    orphan = compute_baselines(_tiny_market(with_orphan=True), draws=500, seed=2)
    assert (orphan.no_candidate, orphan.no_feasible) == (1, 1)
    for field in ("optimal", "pick_cheapest", "random_mean_exact", "random_median"):
        assert getattr(orphan, field) == getattr(base, field)
    assert welfare_of_choices(_tiny_market(with_orphan=True), [0, 2, None]) == 24.0


def _brute_force(market: Market) -> dict[str, float]:
    optimal = cheapest = any_exact = picky_exact = 0.0
    for customer in market.customers:
        utilities = {}
        for b in market.businesses:
            if b.carries(customer.items):
                price = b.order_price(customer.items)
                good = market.feasible(customer, b)
                utilities[b.index] = (price, 2 * customer.value - price if good else -price, good)
        if not utilities:
            continue
        lowest = min(utilities, key=lambda k: (utilities[k][0], k))
        cheapest += utilities[lowest][1]
        any_exact += np.mean([u for _, u, _ in utilities.values()])
        good = [u for _, u, ok in utilities.values() if ok]
        if good:
            optimal += max(good)
            picky_exact += np.mean(good)
    return {
        "optimal": optimal,
        "pick_cheapest": cheapest,
        "random_mean_exact": any_exact,
        "random_with_amenities_mean_exact": picky_exact,
    }


@pytest.mark.parametrize("domain", DOMAINS)
def test_baselines_match_brute_force_with_extra_distractors(domain: str) -> None:
    market = generate_market(33, domain, seed=4, n_businesses=130, distractor_items=(2, 5))
    result = compute_baselines(market, draws=200)
    for field, value in _brute_force(market).items():
        assert getattr(result, field) == pytest.approx(value, rel=1e-12), field


@pytest.mark.parametrize("domain", DOMAINS)
def test_baselines_are_ordered_sensibly(domain: str) -> None:
    market = generate_market(100, domain, seed=0)
    result = compute_baselines(market)
    assert result.optimal >= result.random_with_amenities_mean >= result.random_mean
    assert result.optimal >= result.random_with_amenities_median >= result.random_median
    assert result.optimal > result.pick_cheapest > result.random_mean_exact
    assert result.random_mean_exact > 0 and result.no_feasible == 0
    assert compute_baselines(market) == result
    reseeded = compute_baselines(market, seed=1)
    assert reseeded.optimal == result.optimal and reseeded.random_mean != result.random_mean


def test_exact_expectation_matches_monte_carlo() -> None:
    market = generate_market(33, "restaurants", seed=9)
    result = compute_baselines(market, draws=20_000, seed=3)
    for amenities, mean, exact in (
        (True, result.random_with_amenities_mean, result.random_with_amenities_mean_exact),
        (False, result.random_mean, result.random_mean_exact),
    ):
        draws = random_welfare_draws(market, 20_000, seed=3, amenities=amenities)
        assert draws.mean() == pytest.approx(mean)
        assert abs(mean - exact) < 4 * draws.std() / np.sqrt(len(draws))


def test_welfare_of_choices() -> None:
    market = generate_market(12, "contractors", seed=6)
    best = []
    for customer in market.customers:
        feasible = [b for b in market.businesses if market.feasible(customer, b)]
        best.append(min(feasible, key=lambda b: b.order_price(customer.items)).index)
    assert welfare_of_choices(market, best) == pytest.approx(compute_baselines(market).optimal)
    assert welfare_of_choices(market, [None] * 12) == 0.0
    with pytest.raises(ValueError, match="choices"):
        welfare_of_choices(market, [None] * 11)
    with pytest.raises(ValueError, match=r"choices\[0\]"):
        welfare_of_choices(market, [36] + [None] * 11)
    stranger = next(b.index for b in market.businesses if b.progenitor != 0)
    with pytest.raises(ValueError, match="does not carry"):
        welfare_of_choices(market, [stranger] + [None] * 11)
    with pytest.raises(ValueError, match="draws"):
        compute_baselines(market, draws=0)
