"""The catalog vocabularies: ``books.yaml``, ``games.yaml`` and ``restaurants.yaml`` beside this
module, read once per process and expanded into the specs `catalog_generator` draws from.

Word lists, title grammars, description templates and attribute tables are data; what stays here is
the code that expands them (a category's own words fill the shared grammar's slots) and each
domain's price model and title suffixes. Edit a YAML file to reword a catalog: the same seed then
gives a different catalog, which ``tests/envs/test_data_files.py`` points out.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

# ------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class _Attribute:
    """A categorical attribute: its values, base frequencies, and how descriptions say them."""

    name: str
    values: tuple[str, ...]
    weights: tuple[float, ...]
    spoken: Mapping[str, str] = field(default_factory=dict)
    """Description wording of a value (default: the value itself)."""


@dataclass(frozen=True)
class _Category:
    """A category: its frequency, how descriptions name it, what items are about, title grammar,
    and multipliers on attribute value frequencies (``{attribute: {value: factor}}``)."""

    name: str
    weight: float
    nouns: tuple[str, ...]
    subjects: tuple[str, ...]
    titles: tuple[str, ...]
    bias: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    first: tuple[str, ...] | None = None
    """First-sentence templates overriding the domain's (e.g. non-fiction books)."""


@dataclass(frozen=True)
class _Domain:
    """Everything a domain's catalog is generated from."""

    categories: tuple[_Category, ...]
    attributes: tuple[_Attribute, ...]
    words: Mapping[str, tuple[str, ...]]
    first: tuple[str, ...]
    second: tuple[str, ...]
    hype: tuple[str, ...]
    extra: Mapping[str, tuple[str, Mapping[str, str]]]
    """More description fields: name -> (attribute, wording of each value)."""
    price: Callable[
        [Mapping[str, np.ndarray], Sequence[_Attribute], np.random.Generator], np.ndarray
    ]
    suffixes: Callable[[int, Mapping[str, str]], str]
    """The disambiguating suffix of the ``j``-th repeat (j >= 1) of a title, given the item's
    spoken attribute values."""


def _ordinal_word(number: int) -> str:
    words = ("One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten")
    return words[number - 1] if number <= len(words) else str(number)


def _roman(number: int) -> str:
    numerals = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"))
    numerals += ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = []
    for value, numeral in numerals:
        count, number = divmod(number, value)
        out.append(numeral * count)
    return "".join(out)


def _price_from(
    base: Mapping[str, float],
    attribute: str,
    attrs: Mapping[str, np.ndarray],
    specs: Sequence[_Attribute],
    rng: np.random.Generator,
    sigma: float,
    scale: np.ndarray | float = 1.0,
) -> np.ndarray:
    """A lognormal price around ``base[value of attribute]`` (times ``scale``)."""
    spec = next(a for a in specs if a.name == attribute)
    table = np.array([base[v] for v in spec.values])
    return table[attrs[attribute]] * scale * rng.lognormal(0.0, sigma, size=len(attrs[attribute]))


def _retail(prices: np.ndarray, floor: float = 0.99) -> np.ndarray:
    """Prices as shops write them: whole dollars less a cent, at least ``floor``."""
    return np.maximum(np.round(prices) - 0.01, floor)


# -------------------------------------------------------------------------------------- data

_DATA = Path(__file__).resolve().parent
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _load(domain: str) -> dict[str, Any]:
    """The vocabulary file ``<domain>.yaml`` beside this module, read once per process."""
    with (_DATA / f"{domain}.yaml").open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)


def _bias(raw: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {
        name: {value: float(f) for value, f in factors.items()} for name, factors in raw.items()
    }


def _category(raw: Mapping[str, Any], nouns: Sequence[str], titles: Sequence[str]) -> _Category:
    return _Category(
        raw["name"],
        float(raw["weight"]),
        tuple(nouns),
        tuple(raw["subjects"]),
        tuple(titles),
        _bias(raw.get("bias", {})),
    )


def _domain(
    data: Mapping[str, Any],
    categories: tuple[_Category, ...],
    words: dict[str, tuple[str, ...]],
    price: Callable[
        [Mapping[str, np.ndarray], Sequence[_Attribute], np.random.Generator], np.ndarray
    ],
    suffixes: Callable[[int, Mapping[str, str]], str],
) -> _Domain:
    """A `_Domain` from its data file's shared parts plus the domain's own categories and code."""
    attributes = tuple(
        _Attribute(
            a["name"],
            tuple(a["values"]),
            tuple(float(w) for w in a["weights"]),
            dict(a.get("spoken", {})),
        )
        for a in data["attributes"]
    )
    return _Domain(
        categories=categories,
        attributes=attributes,
        words={**{name: tuple(ws) for name, ws in data["words"].items()}, **words},
        first=tuple(data["first"]),
        second=tuple(data["second"]),
        hype=tuple(data["hype"]),
        extra={name: (e["attribute"], dict(e["wording"])) for name, e in data["extra"].items()},
        price=price,
        suffixes=suffixes,
    )


def _books() -> _Domain:
    """Books: fiction categories share a title grammar; non-fiction and poetry their openers."""
    data = _load("books")
    categories = []
    for raw in data["categories"]:
        shared = data["title_sets"][raw["title_set"]] if "title_set" in raw else []
        category = _category(raw, raw["nouns"], [*shared, *raw["titles"]])
        if "first_set" in raw:
            first = tuple(data["first_sets"][raw["first_set"]])
            category = dataclasses.replace(category, first=first)
        categories.append(category)
    return _domain(
        data,
        tuple(categories),
        {},
        price=lambda attrs, specs, rng: _retail(
            _price_from(
                {"paperback": 13.0, "hardcover": 26.0, "ebook": 8.0, "audiobook": 20.0},
                "format",
                attrs,
                specs,
                rng,
                0.22,
                np.array([0.85, 1.0, 1.2])[attrs["length"]],
            )
        ),
        suffixes=lambda j, spoken: f": Book {_ordinal_word(j + 1)}",
    )


def _games() -> _Domain:
    """Games: one title grammar, each category filling ``{genre}`` from its own genre words."""
    data = _load("games")
    categories, genres = [], {}
    for raw in data["categories"]:
        slot = "{genre_" + raw["name"] + "}"
        titles = [t.replace("{genre}", slot) for t in data["category_titles"]]
        categories.append(_category(raw, raw["nouns"], titles))
        genres["genre_" + raw["name"]] = tuple(raw["genre"])
    editions = tuple(data["editions"])
    return _domain(
        data,
        tuple(categories),
        genres,
        price=lambda attrs, specs, rng: _retail(
            _price_from(
                {"pc": 22.0, "console": 45.0, "mobile": 4.0, "handheld": 30.0, "vr": 28.0},
                "platform",
                attrs,
                specs,
                rng,
                0.4,
            )
        ),
        suffixes=lambda j, spoken: editions[j - 1] if j <= len(editions) else f" {_roman(j + 1)}",
    )


def _restaurants() -> _Domain:
    """Restaurants: one title grammar, each cuisine filling ``{venue}``, ``{local}`` and
    ``{owner}`` from its own names; its dishes are what descriptions say it serves."""
    data = _load("restaurants")
    categories, names = [], {}
    for raw in data["categories"]:
        cuisine = raw["name"]
        nouns = [n.format(cuisine=cuisine.capitalize()) for n in data["category_nouns"]]
        titles = []
        for title in data["category_titles"]:
            for kind in ("venue", "local", "owner"):
                title = title.replace("{" + kind + "}", "{" + kind + "_" + cuisine + "}")
            titles.append(title)
        categories.append(_category({**raw, "subjects": raw["dishes"]}, nouns, titles))
        for kind in ("venue", "local", "owner"):
            names[f"{kind}_{cuisine}"] = tuple(raw[kind])
    return _domain(
        data,
        tuple(categories),
        names,
        price=lambda attrs, specs, rng: np.maximum(
            np.round(
                _price_from(
                    {"budget": 13.0, "mid-range": 28.0, "upscale": 58.0, "luxury": 125.0},
                    "price_band",
                    attrs,
                    specs,
                    rng,
                    0.18,
                )
            ),
            5.0,
        ),
        suffixes=lambda j, spoken: f" ({spoken['neighbourhood_title']})" if j == 1 else f" No. {j}",
    )


SPECS: dict[str, _Domain] = {"books": _books(), "games": _games(), "restaurants": _restaurants()}
"""Domain name -> everything its catalog is generated from."""
