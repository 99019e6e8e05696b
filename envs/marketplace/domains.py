"""The two market domains: item catalogues with mean prices, amenities, and listing texts.

The words live in data files (``data/restaurants.yaml``, ``data/contractors.yaml`` and the shared
``data/texts.yaml``), read once per process; this module expands them. Catalogues are combinatorial
(e.g. preparation x filling x dish) so a market of 10,000 customers finds enough distinct item
names; they are built once per process in a fixed order (a fixed internal seed, no episode
randomness), so ``make_domain(name, n)`` is a pure function and its first ``n`` items mix every
category. The text helpers (business names, descriptions, customer names and requests) take a numpy
``Generator`` from the caller, so a market's texts follow its seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from envs.core.seeding import derive_seed, stable_hash
from envs.marketplace.market import DOMAINS, Domain

Slot = tuple[tuple[str, float], ...]
"""One slot of a combinatorial name: words with the price factor each contributes."""


@dataclass(frozen=True)
class _Category:
    """Items named by one word from each slot; mean price = product of the factors x jitter."""

    name: str
    slots: tuple[Slot, ...]
    weight: float
    """Share of this category among a catalogue's first items (until it runs out)."""

    @property
    def size(self) -> int:
        return math.prod(len(slot) for slot in self.slots)


@dataclass(frozen=True)
class _Spec:
    categories: tuple[_Category, ...]
    price_range: tuple[float, float]
    jitter: float
    """Half-width of the per-item multiplicative price jitter."""
    amenities: tuple[str, ...]


# --- data ---------------------------------------------------------------------------------------

_DATA = Path(__file__).resolve().parent / "data"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _load(name: str) -> dict[str, Any]:
    """The data file ``data/<name>.yaml``, read once per process."""
    with (_DATA / f"{name}.yaml").open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)


def _slot(words: Mapping[str, float]) -> Slot:
    """A slot from its data-file form, ``{word: price factor}`` in order."""
    return tuple((str(word), float(factor)) for word, factor in words.items())


def _build_spec(raw: Mapping[str, Any]) -> _Spec:
    """A domain's catalogue spec. A category names its slots (``slots``) or, for a trade, where
    the job is (``where``, a named slot) with its own ``objects`` and ``services``."""
    catalogue = raw["catalogue"]
    named = {name: _slot(words) for name, words in catalogue["slots"].items()}
    categories = []
    for category in catalogue["categories"]:
        if "slots" in category:
            slots = tuple(named[name] for name in category["slots"])
        else:
            slots = (
                named[category["where"]],
                _slot(category["objects"]),
                _slot(category["services"]),
            )
        categories.append(_Category(category["name"], slots, float(category["weight"])))
    low, high = catalogue["price_range"]
    return _Spec(
        categories=tuple(categories),
        price_range=(float(low), float(high)),
        jitter=float(catalogue["jitter"]),
        amenities=tuple(raw["amenities"]),
    )


_RESTAURANT_DATA = _load("restaurants")
"""A casual Mexican-style market."""
_CONTRACTOR_DATA = _load("contractors")
"""Home services: each trade is location x object x service, with services that fit its objects."""
_TEXT_DATA = _load("texts")
_RESTAURANTS = _build_spec(_RESTAURANT_DATA)
_CONTRACTORS = _build_spec(_CONTRACTOR_DATA)
_SPECS = {"restaurants": _RESTAURANTS, "contractors": _CONTRACTORS}


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {name!r}")
    return _SPECS[name]


def _category_items(domain: str, category: _Category, spec: _Spec) -> list[tuple[str, float]]:
    """Every name of ``category`` with its mean price (cents), in a fixed shuffled order."""
    items: list[tuple[str, float]] = [("", 1.0)]
    for slot in category.slots:
        items = [
            (f"{prefix} {word}".strip(), factor * f) for prefix, factor in items for word, f in slot
        ]
    low, high = spec.price_range
    jitter = spec.jitter
    priced = []
    for name, factor in items:
        # clip first, jitter after: prices near the bounds still differ between items
        base = min(max(factor, low / (1.0 - jitter)), high / (1.0 + jitter))
        u = stable_hash("mean price", domain, name) / 2.0**63
        priced.append((name, round(base * (1.0 + jitter * (2.0 * u - 1.0)), 2)))
    order = np.random.default_rng(derive_seed("catalogue", domain, category.name))
    return [priced[i] for i in order.permutation(len(priced))]


@cache
def _catalogue(domain: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The domain's full catalogue: categories interleaved by weight, then the rest in turn."""
    spec = _spec(domain)
    keyed = []
    for rank, category in enumerate(spec.categories):
        for k, item in enumerate(_category_items(domain, category, spec)):
            keyed.append(((k + 0.5) / category.weight, rank, item))
    keyed.sort(key=lambda entry: (entry[0], entry[1]))
    names = tuple(item[0] for _, _, item in keyed)
    prices = np.array([item[1] for _, _, item in keyed], dtype=np.float64)
    prices.setflags(write=False)
    return names, prices


def domain_capacity(name: str) -> int:
    """How many distinct items ``make_domain(name, n)`` can produce."""
    return sum(category.size for category in _spec(name).categories)


def make_domain(name: str, n_items: int) -> Domain:
    """The first ``n_items`` items of domain ``name`` (equal across calls) and its amenities."""
    spec = _spec(name)
    capacity = domain_capacity(name)
    if isinstance(n_items, bool) or not isinstance(n_items, int) or not 1 <= n_items <= capacity:
        raise ValueError(f"n_items must be an int in [1, {capacity}], got {n_items!r}")
    items, prices = _catalogue(name)
    return Domain(
        name=name,
        items=items[:n_items],
        item_prices=prices[:n_items].copy(),
        amenities=spec.amenities,
    )


# --- texts ------------------------------------------------------------------------------------


class _Draw:
    """Uniform draws fetched from a numpy generator in one call, handed out one at a time."""

    def __init__(self, values: list[float]) -> None:
        self._u = values
        self._i = 0

    @classmethod
    def of(cls, rng: np.random.Generator, n: int = 16) -> _Draw:
        return cls(rng.random(n).tolist())

    def unit(self) -> float:
        value = self._u[self._i % len(self._u)]
        self._i += 1
        return value

    def below(self, n: int) -> int:
        return min(int(self.unit() * n), n - 1)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]

    def sample(self, options: Sequence[str], k: int) -> list[str]:
        """``k`` distinct entries of ``options`` (all of them when there are fewer)."""
        pool = list(options)
        chosen = []
        for _ in range(min(k, len(pool))):
            chosen.append(pool.pop(self.below(len(pool))))
        return chosen


def _join(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; ``a; b; c`` when a name itself holds " and "."""
    if len(words) <= 1:
        return "".join(words)
    if any(" and " in word for word in words):
        return "; ".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


@dataclass(frozen=True)
class _Names:
    """Name patterns: each is a tuple of word lists joined by spaces (``{0}'s`` style via fmt)."""

    patterns: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]
    fixed: tuple[str, ...]
    suffixes: tuple[str, ...]

    def base(self, draw: _Draw) -> str:
        k = draw.below(len(self.patterns) + 1)
        if k == len(self.patterns):
            return draw.pick(self.fixed)
        fmt, lists = self.patterns[k]
        return fmt.format(*(draw.pick(words) for words in lists))


def _names(raw: Mapping[str, Any]) -> _Names:
    """Name patterns from a data file; each names the word lists its ``{0}``, ``{1}``... use."""
    lists = {name: tuple(words) for name, words in raw["lists"].items()}
    return _Names(
        patterns=tuple(
            (pattern["format"], tuple(lists[name] for name in pattern["lists"]))
            for pattern in raw["patterns"]
        ),
        fixed=tuple(raw["fixed"]),
        suffixes=tuple(raw["suffixes"]),
    )


_RESTAURANT_NAMES = _names(_RESTAURANT_DATA["names"])
_CONTRACTOR_NAMES = _names(_CONTRACTOR_DATA["names"])
_NAMES = {"restaurants": _RESTAURANT_NAMES, "contractors": _CONTRACTOR_NAMES}


def business_names(domain: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct business names; a repeated base name gets a place suffix, then a number."""
    names = _NAMES[_check(domain)]
    draws = rng.random((n, 5)).tolist()
    taken: set[str] = set()
    result = []
    for row in draws:
        name = names.base(_Draw(row[:4]))
        if name.lower() in taken:
            suffix = names.suffixes[min(int(row[4] * len(names.suffixes)), len(names.suffixes) - 1)]
            name = f"{name} {suffix}" if domain == "contractors" else f"{name} ({suffix})"
        base, k = name, 2
        while name.lower() in taken:
            name, k = f"{base} #{k}", k + 1
        taken.add(name.lower())
        result.append(name)
    return result


def _check(domain: str) -> str:
    _spec(domain)
    return domain


_RESTAURANT_OPENERS = tuple(_RESTAURANT_DATA["description"]["openers"])
_RESTAURANT_VIBES = tuple(_RESTAURANT_DATA["description"]["vibes"])
_RESTAURANT_CUISINES = tuple(_RESTAURANT_DATA["description"]["kinds"])
_RESTAURANT_EXTRAS = tuple(_RESTAURANT_DATA["description"]["extras"])
_RESTAURANT_SPECIALTIES = tuple(_RESTAURANT_DATA["description"]["specialties"])
_CONTRACTOR_OPENERS = tuple(_CONTRACTOR_DATA["description"]["openers"])
_CONTRACTOR_VIBES = tuple(_CONTRACTOR_DATA["description"]["vibes"])
_CONTRACTOR_KINDS = tuple(_CONTRACTOR_DATA["description"]["kinds"])
_CONTRACTOR_EXTRAS = tuple(_CONTRACTOR_DATA["description"]["extras"])
_CONTRACTOR_SPECIALTIES = tuple(_CONTRACTOR_DATA["description"]["specialties"])
_AMENITY_LINES = tuple(_TEXT_DATA["amenity_lines"])


def business_description(
    domain: str,
    name: str,
    items: Sequence[str],
    amenities: Sequence[str],
    rng: np.random.Generator,
) -> str:
    """Two or three sentences: who the business is, two specialties from ``items``, and up to two
    of its ``amenities`` (only true ones are passed, so the listing never lies)."""
    draw = _Draw.of(rng)
    if _check(domain) == "restaurants":
        openers, vibes, kinds, extras = (
            _RESTAURANT_OPENERS,
            _RESTAURANT_VIBES,
            _RESTAURANT_CUISINES,
            _RESTAURANT_EXTRAS,
        )
        specialties = _RESTAURANT_SPECIALTIES
    else:
        openers, vibes, kinds, extras = (
            _CONTRACTOR_OPENERS,
            _CONTRACTOR_VIBES,
            _CONTRACTOR_KINDS,
            _CONTRACTOR_EXTRAS,
        )
        specialties = _CONTRACTOR_SPECIALTIES
    opener = draw.pick(openers)
    vibe = draw.pick(vibes)
    first = opener.format(
        name=name,
        vibe=vibe,
        a_vibe=f"{'an' if vibe[0] in 'aeiou' else 'a'} {vibe}",
        cuisine=draw.pick(kinds),
        kind=draw.pick(kinds),
        extra=draw.pick(extras),
    )
    sentences = [first]
    picked = draw.sample(items, 2)
    if len(picked) == 2:
        sentences.append(draw.pick(specialties).format(a=picked[0], b=picked[1]))
    elif picked:
        sentences.append(f"Try the {picked[0]}.")
    shown = draw.sample(amenities, 1 + draw.below(2))
    if shown:
        sentences.append(draw.pick(_AMENITY_LINES).format(am=_join(shown)))
    return " ".join(sentences)


_FIRST_NAMES = tuple(_TEXT_DATA["first_names"])
_LAST_NAMES = tuple(_TEXT_DATA["last_names"])


def customer_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct "First Last" names (the pool holds over 11,000)."""
    pool = len(_FIRST_NAMES) * len(_LAST_NAMES)
    if not 0 <= n <= pool:
        raise ValueError(f"n must be in [0, {pool}], got {n!r}")
    picks = rng.choice(pool, size=n, replace=False).tolist()
    width = len(_LAST_NAMES)
    return [f"{_FIRST_NAMES[k // width]} {_LAST_NAMES[k % width]}" for k in picks]


_REQUEST_OPENERS = {
    "restaurants": tuple(_RESTAURANT_DATA["request"]["openers"]),
    "contractors": tuple(_CONTRACTOR_DATA["request"]["openers"]),
}
_ITEM_STYLES = {
    "restaurants": tuple(_RESTAURANT_DATA["request"]["item_styles"]),
    "contractors": tuple(_CONTRACTOR_DATA["request"]["item_styles"]),
}
_REQUEST_AMENITIES = tuple(_TEXT_DATA["request_amenities"])
_REQUEST_CLOSERS = tuple(_TEXT_DATA["request_closers"])


def customer_request(
    domain: str, items: Sequence[str], amenities: Sequence[str], rng: np.random.Generator
) -> str:
    """A short request naming every ordered item (quantity one each) and every required amenity
    verbatim, so an assistant can read the whole order from it."""
    draw = _Draw.of(rng)
    style = draw.pick(_ITEM_STYLES[_check(domain)])
    listed = _join([style.format(item=item) for item in items])
    sentences = [draw.pick(_REQUEST_OPENERS[domain]).format(items=listed)]
    if amenities:
        sentences.append(draw.pick(_REQUEST_AMENITIES).format(am=_join(list(amenities))))
    closer = draw.pick(_REQUEST_CLOSERS)
    if closer:
        sentences.append(closer)
    return " ".join(sentences)
