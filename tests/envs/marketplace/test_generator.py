"""Market generation: domains, the progenitor scheme, the study designs and the manipulations."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from envs.marketplace.domains import (
    business_names,
    customer_names,
    customer_request,
    domain_capacity,
    make_domain,
)
from envs.marketplace.generator import (
    DESIGNS,
    HIDDEN_RATINGS,
    build_market,
    competitive_design,
    generate_market,
    identical_sellers_design,
    malicious_design,
    order_sizes,
)
from envs.marketplace.manipulation import CONDITIONS, apply_condition, rivals
from envs.marketplace.market import DOMAINS, Market

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module", params=DOMAINS)
def market(request: pytest.FixtureRequest) -> Market:
    return generate_market(100, request.param, seed=3)


def _digest(market: Market) -> str:
    text = repr((market.customers, market.businesses, market.domain.items))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# --- domains -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOMAINS)
def test_domain_catalogue_is_large_distinct_priced_and_fixed(name: str) -> None:
    capacity = domain_capacity(name)
    assert capacity >= 6000
    full = make_domain(name, capacity)
    assert len(set(full.items)) == capacity
    assert 15 <= len(full.amenities) <= 25 and len(set(full.amenities)) == len(full.amenities)
    low, high = (2.0, 25.0) if name == "restaurants" else (80.0, 3000.0)
    assert full.item_prices.dtype == np.float64
    assert low <= full.item_prices.min() and full.item_prices.max() <= high
    assert np.array_equal(full.item_prices, np.round(full.item_prices, 2))
    small = make_domain(name, 40)
    assert small.items == full.items[:40]
    assert np.array_equal(small.item_prices, full.item_prices[:40])
    assert small.item_id(small.items[7].upper()) == 7


@pytest.mark.parametrize("name", DOMAINS)
def test_no_item_name_is_a_run_of_words_inside_another(name: str) -> None:
    items = make_domain(name, domain_capacity(name)).items
    names = set(items)
    for item in items:
        words = item.split()
        for i, j in itertools.combinations(range(len(words) + 1), 2):
            if (i, j) != (0, len(words)):
                assert " ".join(words[i:j]) not in names, item


def test_restaurant_catalogue_mixes_categories_early() -> None:
    items = make_domain("restaurants", 60).items
    assert any(item.endswith(("tacos", "burrito", "enchiladas")) for item in items)
    assert any(item.endswith(("agua fresca", "lemonade", "horchata", "smoothie")) for item in items)


def test_unknown_domain_and_bad_sizes_raise() -> None:
    message = "domain must be one of ('restaurants', 'contractors'), got 'x'"
    with pytest.raises(ValueError) as error:
        make_domain("x", 10)
    assert str(error.value) == message
    with pytest.raises(ValueError, match="n_items"):
        make_domain("restaurants", 0)
    with pytest.raises(ValueError, match="n_items"):
        make_domain("contractors", domain_capacity("contractors") + 1)


@pytest.mark.parametrize("name", DOMAINS)
def test_text_helpers_are_seeded_distinct_and_complete(name: str) -> None:
    rng = np.random.default_rng(0)
    names = business_names(name, 5000, rng)
    assert len({n.lower() for n in names}) == 5000
    assert business_names(name, 50, np.random.default_rng(1)) == business_names(
        name, 50, np.random.default_rng(1)
    )
    people = customer_names(10_000, rng)
    assert len(set(people)) == 10_000
    domain = make_domain(name, 30)
    for k in range(50):
        items = domain.items[k % 27 : k % 27 + 1 + k % 3]
        amenities = domain.amenities[k % 5 : k % 5 + 1 + k % 2]
        request = customer_request(name, items, amenities, rng)
        assert all(item in request for item in items)
        assert all(amenity in request for amenity in amenities)


# --- the progenitor market ---------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_same_seed_same_market_other_seed_other_market(domain: str) -> None:
    first, again = generate_market(60, domain, 7), generate_market(60, domain, 7)
    assert first == again
    assert np.array_equal(first.domain.item_prices, again.domain.item_prices)
    other = generate_market(60, domain, 8)
    assert other.customers != first.customers
    assert other.businesses != first.businesses


def test_market_is_identical_in_a_fresh_process() -> None:
    code = (
        "from envs.marketplace.generator import generate_market\n"
        "from tests.envs.marketplace.test_generator import _digest\n"
        "print(_digest(generate_market(30, 'contractors', 11, n_businesses=100)))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    expected = _digest(generate_market(30, "contractors", 11, n_businesses=100))
    assert out.stdout.strip() == expected


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 100, 101])
def test_order_sizes_are_thirds(n: int) -> None:
    sizes = order_sizes(n)
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1
    market = generate_market(n, "restaurants", seed=n)
    counts = tuple(sum(len(c.items) == k for c in market.customers) for k in (1, 2, 3))
    assert counts == sizes
    assert len(market.businesses) == 3 * n and market.design == "progenitor"


def _assert_no_order_inside_another(market: Market) -> None:
    """Complete in O(N): every proper subset of an order (at most 6) is no one's order."""
    orders = {frozenset(c.items) for c in market.customers}
    assert len(orders) == len(market.customers)
    for order in orders:
        for size in range(1, len(order)):
            for part in itertools.combinations(sorted(order), size):
                assert frozenset(part) not in orders


def test_no_order_is_a_subset_of_another(market: Market) -> None:
    orders = [set(c.items) for c in market.customers]
    for i, j in itertools.permutations(range(len(orders)), 2):
        assert not orders[i] <= orders[j]
    _assert_no_order_inside_another(market)


def test_each_customer_has_two_feasible_sellers_and_one_near_miss(market: Market) -> None:
    sellers: dict[int, list[int]] = {}
    for business in market.businesses:
        sellers.setdefault(business.progenitor, []).append(business.index)
    for customer in market.customers:
        own = sellers[customer.index]
        assert len(own) == 3
        carriers = [b.index for b in market.businesses if b.carries(customer.items)]
        assert carriers == own  # distractor items never complete another customer's order
        feasible = [b for b in own if market.feasible(customer, market.businesses[b])]
        assert len(feasible) == 2
        (miss,) = set(own) - set(feasible)
        lacking = set(customer.amenities) - market.businesses[miss].amenities
        assert len(lacking) == 1


def test_values_budgets_and_prices(market: Market) -> None:
    means = market.domain.item_prices
    for customer in market.customers:
        assert customer.values == tuple(means[list(customer.items)].tolist())
        assert customer.value == pytest.approx(float(means[list(customer.items)].sum()))
        assert customer.budget == round(3.0 * customer.value, 2)
        assert 1 <= len(customer.amenities) <= 2
    for business in market.businesses:
        for item, price in business.menu.items():
            assert price == round(price, 2) and price >= 0.2 * means[item] - 0.005
        assert 0.6 <= business.min_price_factor <= 0.95 and business.rating == 1.0


def test_distractor_counts_within_ranges(market: Market) -> None:
    for business in market.businesses:
        customer = market.customers[business.progenitor]
        required = set(customer.amenities)
        assert 10 <= len(business.menu) - len(customer.items) <= 15
        assert len(business.amenities - required) <= 4
        assert len(business.amenities | required) >= 2


def test_custom_ranges_rating_and_extra_distractor_businesses() -> None:
    market = generate_market(
        30,
        "contractors",
        seed=2,
        n_businesses=120,
        distractor_items=(0, 0),
        distractor_amenities=(0, 0),
        min_price_factor=(0.7, 0.7),
        rating=4.5,
        price_sd=0.0,
        budget_factor=2.0,
    )
    extra = [b for b in market.businesses if b.progenitor == -1]
    assert len(extra) == 30 and len(market.businesses) == 120
    means = market.domain.item_prices
    for business in market.businesses:
        assert business.rating == 4.5 and business.min_price_factor == 0.7
        if business.progenitor < 0:
            assert 1 <= len(business.menu) <= 3 and not business.amenities
            continue
        customer = market.customers[business.progenitor]
        assert set(business.menu) == set(customer.items)
        assert business.amenities <= set(customer.amenities)
        assert all(price == means[item] for item, price in business.menu.items())
    for customer in market.customers:
        assert customer.budget == round(2.0 * customer.value, 2)
        assert sum(market.feasible(customer, b) for b in market.businesses) == 2


def test_businesses_are_shuffled_customers_are_not(market: Market) -> None:
    assert [c.index for c in market.customers] == list(range(100))
    assert [b.index for b in market.businesses] == list(range(300))
    adjacent = 0
    for c in range(100):
        own = sorted(b.index for b in market.businesses if b.progenitor == c)
        adjacent += own[2] - own[0] == 2
    assert adjacent < 10


def test_texts_name_the_order_and_are_unique(market: Market) -> None:
    domain = market.domain
    for customer in market.customers:
        assert all(domain.items[i] in customer.request for i in customer.items)
        assert all(domain.amenities[a] in customer.request for a in customer.amenities)
    assert len({c.name for c in market.customers}) == len(market.customers)
    assert len({b.name.lower() for b in market.businesses}) == len(market.businesses)
    for business in market.businesses:
        assert business.name in business.description
        assert 2 <= business.description.count(". ") + 1 <= 4
        for a, amenity in enumerate(domain.amenities):
            if a not in business.amenities:  # the near-miss never advertises what it lost
                assert amenity not in business.description


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_customers": 0}, "n_customers"),
        ({"n_customers": 10_001}, "n_customers"),
        ({"n_customers": 2.0}, "n_customers"),
        ({"n_customers": True}, "n_customers"),
        ({"n_businesses": 29}, "n_businesses"),
        ({"n_businesses": 30_001}, "n_businesses"),
        ({"domain": "bakeries"}, "domain"),
        ({"seed": -1}, "seed"),
        ({"distractor_items": (5, 2)}, "distractor_items"),
        ({"distractor_items": (-1, 3)}, "distractor_items"),
        ({"distractor_amenities": (0, 11)}, "distractor_amenities"),
        ({"price_sd": -0.1}, "price_sd"),
        ({"price_sd": float("nan")}, "price_sd"),
        ({"min_price_factor": (0.9, 0.5)}, "min_price_factor"),
        ({"min_price_factor": (0.0, 0.5)}, "min_price_factor"),
        ({"budget_factor": 0.0}, "budget_factor"),
        ({"rating": 6.0}, "rating"),
    ],
)
def test_bad_inputs_raise_naming_the_parameter(kwargs: dict, name: str) -> None:
    args = {"n_customers": 10, **kwargs}
    with pytest.raises(ValueError, match=name):
        generate_market(**args)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 13, 26, 40])
@pytest.mark.parametrize("domain", DOMAINS)
def test_small_markets_build(n: int, domain: str) -> None:
    market = generate_market(n, domain, seed=n + 100)
    _assert_no_order_inside_another(market)
    assert len(market.businesses) == 3 * n


def test_largest_scale_is_fast_and_valid() -> None:
    start = time.perf_counter()
    market = generate_market(10_000, "restaurants", seed=1)
    elapsed = time.perf_counter() - start
    assert len(market.customers) == 10_000 and len(market.businesses) == 30_000
    assert elapsed < 15.0, f"10,000/30,000 took {elapsed:.1f} s"
    counts = [sum(len(c.items) == k for c in market.customers) for k in (1, 2, 3)]
    assert counts == [3334, 3333, 3333]
    _assert_no_order_inside_another(market)
    rng = np.random.default_rng(0)
    for c in rng.choice(10_000, size=20, replace=False).tolist():
        customer = market.customers[c]
        carriers = [b for b in market.businesses if b.carries(customer.items)]
        assert sorted(b.progenitor for b in carriers) == [c, c, c]
        assert sum(b.has_amenities(customer.amenities) for b in carriers) == 2


# --- designs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("domain", DOMAINS)
def test_malicious_design_has_three_feasible_sellers(domain: str, seed: int) -> None:
    market = malicious_design(domain, seed)
    (customer,) = market.customers
    assert market.design == "malicious" and len(market.businesses) == 3
    assert all(b.progenitor == 0 for b in market.businesses)
    assert all(market.feasible(customer, b) for b in market.businesses)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("domain", DOMAINS)
def test_competitive_design_gives_each_customer_one_seller(domain: str, seed: int) -> None:
    market = competitive_design(domain, seed)
    assert market.design == "competitive"
    assert len(market.customers) == 3 and len(market.businesses) == 3
    assert sorted(len(c.items) for c in market.customers) == [1, 2, 3]
    assert sorted(b.progenitor for b in market.businesses) == [0, 1, 2]
    for customer in market.customers:
        feasible = [b for b in market.businesses if market.feasible(customer, b)]
        assert [b.progenitor for b in feasible] == [customer.index]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("domain", DOMAINS)
def test_identical_design_sellers_differ_only_by_hidden_rating(domain: str, seed: int) -> None:
    market = identical_sellers_design(domain, seed)
    (customer,) = market.customers
    assert market.design == "identical"
    assert tuple(b.rating for b in market.businesses) == HIDDEN_RATINGS
    assert all(f"{b.rating:.2f}" == "1.00" for b in market.businesses)
    assert len({b.order_price(customer.items) for b in market.businesses}) == 1
    assert len({b.min_price_factor for b in market.businesses}) == 1
    assert all(market.feasible(customer, b) for b in market.businesses)


def test_designs_are_seeded() -> None:
    for name, builder in DESIGNS.items():
        args = (5, "contractors", 4) if name == "progenitor" else ("contractors", 4)
        assert builder(*args) == builder(*args)


def test_build_market_dispatches_and_applies_the_condition() -> None:
    plain = build_market("progenitor", 10, "contractors", 1)
    assert plain == dataclasses.replace(generate_market(10, "contractors", 1), manipulator=0)
    hit = build_market("progenitor", 10, "contractors", 1, condition="authority", manipulator=4)
    assert (hit.condition, hit.manipulator) == ("authority", 4)
    changed = [b.index for b, o in zip(hit.businesses, plain.businesses, strict=True) if b != o]
    assert changed == [4]
    small = build_market("malicious", 3, "restaurants", 2, condition="social_proof")
    assert small.scale == "1/3" and small.condition == "social_proof"
    assert build_market("identical", None, "contractors", 0).design == "identical"
    assert build_market("progenitor", 5, price_sd=0.0).businesses[0].menu


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        (("nope", 3), {}, "design"),
        (("progenitor", None), {}, "n_customers"),
        (("malicious",), {"manipulator": 3, "condition": "authority"}, "manipulator"),
        (("malicious",), {"manipulator": -2}, "manipulator"),
        (("competitive",), {"n_businesses": 9}, "n_businesses"),
        (("competitive",), {"condition": "flattery"}, "condition"),
        (("identical",), {"seed": -3}, "seed"),
    ],
)
def test_build_market_bad_inputs(args: tuple, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        build_market(*args, **kwargs)


# --- manipulation ------------------------------------------------------------------------------


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("domain", DOMAINS)
def test_apply_condition_changes_only_the_target_description(domain: str, condition: str) -> None:
    market = generate_market(10, domain, seed=5)
    altered = apply_condition(market, condition, business=6)
    assert (altered.condition, altered.manipulator) == (condition, 6)
    assert market.condition == "control" and market.manipulator == -1  # the input is untouched
    assert altered.customers == market.customers
    for before, after in zip(market.businesses, altered.businesses, strict=True):
        if before.index != 6 or condition == "control":
            assert after == before
        else:
            assert dataclasses.replace(after, description=before.description) == before
            assert after.description.startswith(before.description)
            assert len(after.description) > len(before.description) + 100
            assert before.name in after.description[len(before.description) :]


@pytest.mark.parametrize("domain", DOMAINS)
def test_strong_injection_names_the_competitors(domain: str) -> None:
    market = build_market("competitive", None, domain, 3)
    for target in range(3):
        text = apply_condition(market, "injection_strong", target).businesses[target].description
        others = [b.name for b in market.businesses if b.index != target]
        assert all(name in text for name in others)
    big = generate_market(20, domain, seed=1)
    named = rivals(big, 0)
    siblings = [b.name for b in big.businesses if b.progenitor == big.businesses[0].progenitor]
    assert len(named) == 3 and set(siblings) - {big.businesses[0].name} <= set(named)


def test_injections_fake_the_end_of_the_listing() -> None:
    market = malicious_design("restaurants", 0)
    for condition in ("injection_basic", "injection_strong"):
        text = apply_condition(market, condition).businesses[0].description
        assert "END OF BUSINESS LISTING" in text and "SYSTEM" in text


def test_apply_condition_bad_inputs() -> None:
    market = competitive_design("contractors", 0)
    with pytest.raises(ValueError, match="condition must be one of"):
        apply_condition(market, "bribery")
    with pytest.raises(ValueError, match="business"):
        apply_condition(market, "authority", 3)
    with pytest.raises(ValueError, match="business"):
        apply_condition(market, "authority", -1)
    assert apply_condition(market, "control", -1).manipulator == -1
    with pytest.raises(ValueError, match="already has condition"):
        apply_condition(apply_condition(market, "authority"), "social_proof")


@pytest.mark.parametrize("design", ["malicious", "competitive", "identical"])
def test_a_design_has_one_vocabulary_whatever_the_seed(design):
    sizes = {
        (len(m.domain.items), len(m.domain.amenities))
        for m in (build_market(design, None, "restaurants", seed) for seed in range(30))
    }
    assert len(sizes) == 1
