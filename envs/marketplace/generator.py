"""Seeded market generation after the reference's progenitor scheme.

Every customer orders a 1-, 2- or 3-item bundle (thirds of the market each, no order a subset of
another) and requires one or two amenities; each customer "progenitor" spawns three businesses
that carry its items at Gaussian prices plus distractor items and amenities. All three get the
required amenities, then the third loses one: two feasible sellers and one near-miss per customer.
Distractor items come from a pool no order uses, so a customer's only carriers are its progenitors
(and the baselines stay near the reference's). Everything derives from ``seed`` through
`envs.core.seeding.child_rng`, one stream per part, so changing the texts never moves the prices.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from envs.core.seeding import child_rng
from envs.marketplace import domains
from envs.marketplace.manipulation import apply_condition
from envs.marketplace.market import Business, Customer, Market

MAX_CUSTOMERS = 10_000
MAX_BUSINESSES = 30_000
PROGENITORS = 3
"""Businesses spawned per customer in the progenitor design."""

_MAX_DISTRACTOR_ITEMS = 50
_EXTRA_MENU = (1, 3)
"""Pure distractor businesses get this many items on top of the distractor range."""
_CHUNK_CELLS = 1 << 22
"""Random keys drawn per chunk when sampling menus (bounds memory at 32 MiB)."""


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def _check_seed(seed: object) -> int:
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _int_range(name: str, value: object, low: int, high: int) -> tuple[int, int]:
    ok = isinstance(value, tuple | list) and len(value) == 2 and all(_is_int(v) for v in value)
    if not ok or not low <= value[0] <= value[1] <= high:
        raise ValueError(
            f"{name} must be (lo, hi) ints with {low} <= lo <= hi <= {high}, got {value!r}"
        )
    return int(value[0]), int(value[1])


@dataclass(frozen=True)
class GeneratorParams:
    """The generator's knobs, checked once (each error names its parameter)."""

    distractor_items: tuple[int, int] = (10, 15)
    distractor_amenities: tuple[int, int] = (2, 4)
    price_sd: float = 0.15
    """Price standard deviation as a fraction of the item's mean price."""
    min_price_factor: tuple[float, float] = (0.6, 0.95)
    budget_factor: float = 3.0
    rating: float = 1.0

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(
            self,
            "distractor_items",
            _int_range("distractor_items", self.distractor_items, 0, _MAX_DISTRACTOR_ITEMS),
        )
        fix(
            self,
            "distractor_amenities",
            _int_range("distractor_amenities", self.distractor_amenities, 0, 10),
        )
        if not _is_real(self.price_sd) or not 0.0 <= self.price_sd <= 1.0:
            raise ValueError(f"price_sd must be a float in [0, 1], got {self.price_sd!r}")
        factor = self.min_price_factor
        ok = isinstance(factor, tuple | list) and len(factor) == 2 and all(map(_is_real, factor))
        if not ok or not 0.0 < factor[0] <= factor[1] <= 1.0:
            raise ValueError(
                f"min_price_factor must be (lo, hi) with 0 < lo <= hi <= 1, got {factor!r}"
            )
        fix(self, "min_price_factor", (float(factor[0]), float(factor[1])))
        if not _is_real(self.budget_factor) or not 0.0 < self.budget_factor <= 100.0:
            raise ValueError(
                f"budget_factor must be a float in (0, 100], got {self.budget_factor!r}"
            )
        if not _is_real(self.rating) or not 0.0 <= self.rating <= 5.0:
            raise ValueError(f"rating must be a float in [0, 5], got {self.rating!r}")


@dataclass(frozen=True)
class Plan:
    """What to build: order-size counts, sellers per customer, near-miss or not, extra sellers."""

    design: str
    sizes: tuple[int, int, int]
    """How many customers order 1, 2 and 3 items."""
    sellers: int = PROGENITORS
    near_miss: bool = True
    """Whether the last seller of each customer loses one required amenity."""
    extra: int = 0
    """Pure distractor businesses: random menus from the distractor pool, progenitor -1."""
    shuffle: bool = True
    """Whether business indices are a seeded permutation (progenitors not adjacent)."""
    layouts: tuple[tuple[int, int, int], ...] = ()
    """Order-size layouts the vocabulary is sized for (default: ``sizes``), so that a design
    whose order size is drawn per seed has one vocabulary, hence one set of spaces, per seed."""

    @property
    def n_customers(self) -> int:
        return sum(self.sizes)


def order_sizes(n_customers: int) -> tuple[int, int, int]:
    """Counts of 1-, 2- and 3-item orders: thirds, as equal as possible (singles first)."""
    base, rest = divmod(n_customers, 3)
    return base + (rest > 0), base + (rest > 1), base


def _vocabulary(sizes: tuple[int, int, int], params: GeneratorParams) -> tuple[int, int, int]:
    """Items needed: exclusive singles, a shared pool for pairs and triples, a distractor pool.

    The pool keeps pairs sparse (density about 1/10) so triples avoiding every pair are easy to
    draw; each pool item appears in about eight orders at scale.
    """
    n1, n2, n3 = sizes
    pool = 0
    if n2 + n3:
        pool = max(math.ceil((2 * n2 + 3 * n3) / 8), math.ceil(math.sqrt(20 * n2)) + 2, 5)
    hi = params.distractor_items[1] + _EXTRA_MENU[1]
    distractors = max(30, 2 * hi, math.ceil((n1 + pool) / 10))
    return n1, pool, distractors


def _draw_orders(
    rng: np.random.Generator, singles: np.ndarray, pool: np.ndarray, n2: int, n3: int
) -> list[tuple[int, ...]]:
    """Singles, then distinct pairs, then distinct triples containing none of the pairs."""
    orders: list[tuple[int, ...]] = [(int(item),) for item in singles]
    pool_ids = pool.tolist()
    seen: set[tuple[int, ...]] = set()
    pairs: set[tuple[int, int]] = set()
    for size, wanted in ((2, n2), (3, n3)):
        got = 0
        for _ in range(1000):
            if got == wanted:
                break
            batch = rng.integers(0, len(pool_ids), size=(2 * (wanted - got) + 8, size)).tolist()
            for row in batch:
                key = tuple(sorted(row))
                if len(set(key)) < size or key in seen:
                    continue
                if size == 3 and (
                    (key[0], key[1]) in pairs
                    or (key[0], key[2]) in pairs
                    or (key[1], key[2]) in pairs
                ):
                    continue
                seen.add(key)
                if size == 2:
                    pairs.add(key)  # type: ignore[arg-type]
                orders.append(tuple(pool_ids[k] for k in row))
                got += 1
                if got == wanted:
                    break
        if got < wanted:  # pragma: no cover - the pool is sized so this cannot happen
            raise RuntimeError(f"could not draw {wanted} distinct {size}-item orders")
    return orders


def _distinct_rows(
    rng: np.random.Generator, population: int, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row r, ``counts[r]`` distinct values of ``range(population)`` (uniform subsets,
    in random order), flattened; also the row offsets. Vectorised over chunks of rows."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.empty(offsets[-1], dtype=np.int64)
    kmax = int(counts.max(initial=0))
    if kmax == 0:
        return flat, offsets
    step = max(1, _CHUNK_CELLS // population)
    for start in range(0, len(counts), step):
        stop = min(start + step, len(counts))
        keys = rng.random((stop - start, population))
        if kmax < population:
            idx = np.argpartition(keys, kmax - 1, axis=1)[:, :kmax]
        else:
            idx = np.broadcast_to(np.arange(population), keys.shape)
        order = np.argsort(np.take_along_axis(keys, idx, axis=1), axis=1)
        idx = np.take_along_axis(idx, order, axis=1)
        mask = np.arange(kmax) < counts[start:stop, None]
        flat[offsets[start] : offsets[stop]] = idx[mask]
    return flat, offsets


def build(plan: Plan, domain: str, seed: int, params: GeneratorParams) -> Market:
    """The market ``plan`` describes: the engine behind `generate_market` and the designs."""

    def rng(part: str) -> np.random.Generator:
        return child_rng(seed, "marketplace", plan.design, domain, part)

    _, n2, n3 = plan.sizes
    n = plan.n_customers
    singles_n, pool_n, _ = _vocabulary(plan.sizes, params)
    # the rest of the vocabulary (whatever the layout leaves) is the distractor pool
    total = max(sum(_vocabulary(sizes, params)) for sizes in plan.layouts or (plan.sizes,))
    vocab = domains.make_domain(domain, total)
    means = vocab.item_prices
    roles = rng("items").permutation(len(vocab.items))
    singles = roles[:singles_n]
    pool = roles[singles_n : singles_n + pool_n]
    distract = roles[singles_n + pool_n :]

    order_rng = rng("orders")
    drawn = _draw_orders(order_rng, singles, pool, n2, n3)
    orders = [drawn[k] for k in order_rng.permutation(n)]

    n_amenities = len(vocab.amenities)
    amenity_rng = rng("amenities")
    wanted = 1 + (amenity_rng.random(n) < 0.5).astype(np.int64)
    req_flat, req_off = _distinct_rows(amenity_rng, n_amenities, wanted)
    required = [tuple(req_flat[req_off[c] : req_off[c + 1]].tolist()) for c in range(n)]

    # businesses before the shuffle: customer c's sellers sit at c*sellers .. c*sellers+sellers-1
    n_sellers = n * plan.sellers
    total = n_sellers + plan.extra
    owner = np.full(total, -1, dtype=np.int64)
    owner[:n_sellers] = np.repeat(np.arange(n), plan.sellers)
    menu_rng = rng("menus")
    lo, hi = params.distractor_items
    n_distract = menu_rng.integers(lo, hi + 1, size=total)
    n_distract[n_sellers:] += menu_rng.integers(_EXTRA_MENU[0], _EXTRA_MENU[1] + 1, plan.extra)
    pick_flat, pick_off = _distinct_rows(menu_rng, len(distract), n_distract)
    picked = distract[pick_flat].tolist()
    entries: list[int] = []
    entry_owner: list[int] = []
    for b in range(total):
        items = list(orders[owner[b]]) if b < n_sellers else []
        items += picked[pick_off[b] : pick_off[b + 1]]
        entries += items
        entry_owner += [b] * len(items)
    entry_items = np.asarray(entries, dtype=np.int64)
    entry_means = means[entry_items]
    noise = menu_rng.standard_normal(len(entry_items))
    prices = np.round(
        np.maximum(entry_means * (1.0 + params.price_sd * noise), 0.2 * entry_means), 2
    )
    shuffled = np.lexsort((menu_rng.random(len(entry_items)), np.asarray(entry_owner)))
    entry_items, prices = entry_items[shuffled].tolist(), prices[shuffled].tolist()
    menu_off = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(
        np.bincount(np.asarray(entry_owner, dtype=np.int64), minlength=total), out=menu_off[1:]
    )

    seller_rng = rng("sellers")
    a_lo, a_hi = params.distractor_amenities
    n_extra_amen = seller_rng.integers(a_lo, a_hi + 1, size=total)
    amen_flat, amen_off = _distinct_rows(seller_rng, n_amenities, n_extra_amen)
    amen_list = amen_flat.tolist()
    f_lo, f_hi = params.min_price_factor
    floors = np.round(seller_rng.uniform(f_lo, f_hi, size=total), 2).tolist()

    position = rng("shuffle").permutation(total) if plan.shuffle else np.arange(total)
    text_rng = rng("texts")
    names = domains.business_names(domain, total, text_rng)
    businesses = []
    for index, b in enumerate(position.tolist()):
        start, stop = menu_off[b], menu_off[b + 1]
        menu = dict(zip(entry_items[start:stop], prices[start:stop], strict=True))
        amenities = set(amen_list[amen_off[b] : amen_off[b + 1]])
        progenitor = int(owner[b])
        if progenitor >= 0:
            amenities.update(required[progenitor])
            if plan.near_miss and b % plan.sellers == plan.sellers - 1:
                amenities.discard(required[progenitor][0])
        description = domains.business_description(
            domain,
            names[index],
            [vocab.items[item] for item in menu],
            [vocab.amenities[a] for a in sorted(amenities)],
            text_rng,
        )
        businesses.append(
            Business(
                index=index,
                name=names[index],
                description=description,
                rating=float(params.rating),
                menu=menu,
                amenities=frozenset(amenities),
                progenitor=progenitor,
                min_price_factor=floors[b],
            )
        )

    customer_rng = rng("customers")
    people = domains.customer_names(n, customer_rng)
    customers = []
    for c in range(n):
        values = tuple(means[list(orders[c])].tolist())
        request = domains.customer_request(
            domain,
            [vocab.items[item] for item in orders[c]],
            [vocab.amenities[a] for a in required[c]],
            customer_rng,
        )
        customers.append(
            Customer(
                index=c,
                name=people[c],
                request=request,
                items=tuple(int(item) for item in orders[c]),
                amenities=required[c],
                values=values,
                budget=round(params.budget_factor * sum(values), 2),
            )
        )
    return Market(
        domain=vocab,
        customers=tuple(customers),
        businesses=tuple(businesses),
        seed=seed,
        design=plan.design,
    )


def generate_market(
    n_customers: int,
    domain: str = "restaurants",
    seed: int = 0,
    *,
    n_businesses: int | None = None,
    distractor_items: tuple[int, int] = (10, 15),
    distractor_amenities: tuple[int, int] = (2, 4),
    price_sd: float = 0.15,
    min_price_factor: tuple[float, float] = (0.6, 0.95),
    budget_factor: float = 3.0,
    rating: float = 1.0,
) -> Market:
    """A progenitor market: ``n_customers`` customers (1..10,000), three sellers each (two
    feasible, one near-miss) plus ``n_businesses - 3 * n_customers`` pure distractors, in seeded
    shuffled order. Same arguments, same market."""
    n = _check_int("n_customers", n_customers, 1, MAX_CUSTOMERS)
    if n_businesses is None:
        n_businesses = PROGENITORS * n
    least = PROGENITORS * n
    if not _is_int(n_businesses) or not least <= n_businesses <= MAX_BUSINESSES:
        raise ValueError(
            f"n_businesses must be None or an int in [3 * n_customers = {least}, "
            f"{MAX_BUSINESSES}], got {n_businesses!r}"
        )
    total = int(n_businesses)
    domains.domain_capacity(domain)  # a clear error for an unknown domain, before any work
    params = GeneratorParams(
        distractor_items=distractor_items,
        distractor_amenities=distractor_amenities,
        price_sd=price_sd,
        min_price_factor=min_price_factor,
        budget_factor=budget_factor,
        rating=rating,
    )
    plan = Plan("progenitor", order_sizes(n), extra=total - PROGENITORS * n)
    return build(plan, domain, _check_seed(seed), params)


# --- the reference's study designs -----------------------------------------------------------

HIDDEN_RATINGS = (1.0, 0.999999999, 0.999999998)
"""The identical-sellers design's ratings: they fix the rating-sorted order yet all print 1.00."""


SINGLE_ORDER_LAYOUTS = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


def _single_order(design: str, domain: str, seed: int) -> tuple[int, int, int]:
    """One customer whose order size (1 to 3 items) is drawn from the seed."""
    size = int(child_rng(seed, "marketplace", design, domain, "size").integers(1, 4))
    return tuple(int(k == size) for k in (1, 2, 3))  # type: ignore[return-value]


def _single_order_plan(design: str, domain: str, seed: int) -> Plan:
    """One customer with three feasible sellers (order size drawn from the seed)."""
    return Plan(
        design,
        _single_order(design, domain, seed),
        near_miss=False,
        layouts=SINGLE_ORDER_LAYOUTS,
    )


def malicious_design(domain: str = "restaurants", seed: int = 0, **params: Any) -> Market:
    """One customer and three businesses spawned for it, all feasible (no near-miss): whichever
    one the manipulator is, the customer can buy well from any of them."""
    seed = _check_seed(seed)
    plan = _single_order_plan("malicious", domain, seed)
    return build(plan, domain, seed, GeneratorParams(**params))


def competitive_design(domain: str = "restaurants", seed: int = 0, **params: Any) -> Market:
    """Three customers (1-, 2- and 3-item orders), one feasible business each: every customer
    has exactly one seller, so a manipulator competes for customers it cannot serve."""
    plan = Plan("competitive", (1, 1, 1), sellers=1, near_miss=False)
    return build(plan, domain, _check_seed(seed), GeneratorParams(**params))


def identical_sellers_design(domain: str = "restaurants", seed: int = 0, **params: Any) -> Market:
    """One customer and three economically identical feasible businesses (same prices for the
    order's items, same negotiation floor), rated 1.0, 0.999999999 and 0.999999998 in index order
    (the reference's hidden order: any choice is optimal, so choices reveal position bias)."""
    seed = _check_seed(seed)
    plan = _single_order_plan("identical", domain, seed)
    market = build(plan, domain, seed, GeneratorParams(**params))
    first = market.businesses[0]
    order = market.customers[0].items
    same = {item: first.menu[item] for item in order}
    businesses = tuple(
        dataclasses.replace(
            b,
            menu={item: same.get(item, price) for item, price in b.menu.items()},
            rating=rating,
            min_price_factor=first.min_price_factor,
        )
        for b, rating in zip(market.businesses, HIDDEN_RATINGS, strict=True)
    )
    return dataclasses.replace(market, businesses=businesses)


def _progenitor(n_customers: int | None, domain: str, seed: int, **params: Any) -> Market:
    if n_customers is None:
        raise ValueError("n_customers is required for design 'progenitor'")
    return generate_market(n_customers, domain, seed, **params)


DESIGNS: Mapping[str, Callable[..., Market]] = MappingProxyType(
    {
        "progenitor": generate_market,
        "malicious": malicious_design,
        "competitive": competitive_design,
        "identical": identical_sellers_design,
    }
)
"""Design name -> builder. `generate_market` takes ``n_customers`` first; the others are fixed."""


def build_market(
    design: str,
    n_customers: int | None = None,
    domain: str = "restaurants",
    seed: int = 0,
    condition: str = "control",
    manipulator: int = 0,
    **params: Any,
) -> Market:
    """One entry point: the ``design``'s market (``n_customers`` only matters for "progenitor";
    the study designs have fixed sizes) with ``condition`` applied to business ``manipulator``.
    ``params`` go to the generator (price_sd, distractor ranges, ...)."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {tuple(DESIGNS)}, got {design!r}")
    if design == "progenitor":
        market = _progenitor(n_customers, domain, seed, **params)
    else:
        if "n_businesses" in params:
            raise ValueError(f"n_businesses is fixed for design {design!r}")
        market = DESIGNS[design](domain, seed, **params)
    n = len(market.businesses)
    low = -1 if condition == "control" else 0
    ok = isinstance(manipulator, numbers.Integral) and not isinstance(manipulator, bool)
    if not ok or not low <= manipulator < n:
        raise ValueError(f"manipulator must be an int in [{low}, {n - 1}], got {manipulator!r}")
    return apply_condition(market, condition, manipulator)
