"""Golden fingerprints of the generated catalogs and markets, and of the word lists they use.

The vocabularies of `envs.recommendation.catalog_generator` and `envs.marketplace.domains` live
in data files (``envs/*/data/``); these digests were taken from the generators before the data
moved out of the code, so a catalog or market that changes for the same seed, or a data file that
drifts (a word, an order, a tuple turned list), fails here. Regenerate the table only for an
intended change: ``python tests/envs/test_data_files.py`` prints it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from envs.marketplace import domains
from envs.marketplace.generator import DESIGNS, generate_market
from envs.marketplace.market import DOMAINS as MARKET_DOMAINS
from envs.recommendation import catalog_generator
from envs.recommendation.catalog import DOMAINS as CATALOG_DOMAINS
from envs.recommendation.catalog_generator import generate_catalog

SEEDS = range(20)


def _canon(value: Any) -> Any:
    """A JSON-able form that keeps types and order: tuples, lists and dicts stay distinct."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [[f.name, _canon(getattr(value, f.name))] for f in dataclasses.fields(value)]
        return {"dataclass": type(value).__name__, "fields": fields}
    if isinstance(value, np.ndarray):
        return {"ndarray": str(value.dtype), "shape": list(value.shape), "data": value.tolist()}
    if isinstance(value, np.generic):
        return {"scalar": str(value.dtype), "value": value.item()}
    if isinstance(value, Mapping):
        return {"dict": [[_canon(k), _canon(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"tuple": [_canon(v) for v in value]}
    if isinstance(value, list):
        return {"list": [_canon(v) for v in value]}
    if isinstance(value, set | frozenset):
        items = [_canon(v) for v in value]
        return {"set": sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, float):
        return {"float": repr(value)}
    if callable(value):
        return "<callable>"
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _digest(value: Any) -> str:
    text = json.dumps(_canon(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _catalogs(domain: str, n_items: int, seeds: range) -> list[Any]:
    return [generate_catalog(domain, n_items, seed) for seed in seeds]


def _texts(domain: str, seed: int) -> list[Any]:
    """Every text helper of `domains` fed from one seeded generator."""
    rng = np.random.default_rng(seed)
    vocab = domains.make_domain(domain, 40)
    names = domains.business_names(domain, 60, rng)
    return [
        names,
        [
            domains.business_description(domain, n, vocab.items[i : i + 3], vocab.amenities, rng)
            for i, n in enumerate(names[:20])
        ],
        domains.customer_names(50, rng),
        [
            domains.customer_request(
                domain, vocab.items[i : i + 1 + i % 3], vocab.amenities[: i % 3], rng
            )
            for i in range(20)
        ],
    ]


CASES: dict[str, Callable[[], Any]] = {}
for _domain in CATALOG_DOMAINS:
    CASES[f"catalog/{_domain}/n100/seeds0-19"] = lambda d=_domain: _catalogs(d, 100, SEEDS)
    CASES[f"catalog/{_domain}/n3000/seeds0-2"] = lambda d=_domain: _catalogs(d, 3_000, range(3))
    CASES[f"catalog/{_domain}/n30000/seed5"] = lambda d=_domain: _catalogs(d, 30_000, range(5, 6))
for _domain in MARKET_DOMAINS:
    CASES[f"domain/{_domain}/full"] = lambda d=_domain: domains.make_domain(
        d, domains.domain_capacity(d)
    )
    CASES[f"texts/{_domain}/seeds0-19"] = lambda d=_domain: [_texts(d, s) for s in SEEDS]
    CASES[f"market/{_domain}/progenitor/n4/seeds0-19"] = lambda d=_domain: [
        generate_market(4, d, s) for s in SEEDS
    ]
    CASES[f"market/{_domain}/progenitor/n40/seeds0-1"] = lambda d=_domain: [
        generate_market(40, d, s, n_businesses=150) for s in range(2)
    ]
    for _design in ("malicious", "competitive", "identical"):
        CASES[f"market/{_domain}/{_design}/seeds0-19"] = lambda d=_domain, g=_design: [
            DESIGNS[g](d, s) for s in SEEDS
        ]
CASES["data/recommendation/specs"] = lambda: catalog_generator._SPECS
CASES["data/marketplace/specs"] = lambda: domains._SPECS
CASES["data/marketplace/names"] = lambda: domains._NAMES
CASES["data/marketplace/texts"] = lambda: [
    getattr(domains, name)
    for name in (
        "_RESTAURANT_OPENERS",
        "_RESTAURANT_VIBES",
        "_RESTAURANT_CUISINES",
        "_RESTAURANT_EXTRAS",
        "_RESTAURANT_SPECIALTIES",
        "_CONTRACTOR_OPENERS",
        "_CONTRACTOR_VIBES",
        "_CONTRACTOR_KINDS",
        "_CONTRACTOR_EXTRAS",
        "_CONTRACTOR_SPECIALTIES",
        "_AMENITY_LINES",
        "_FIRST_NAMES",
        "_LAST_NAMES",
        "_REQUEST_OPENERS",
        "_ITEM_STYLES",
        "_REQUEST_AMENITIES",
        "_REQUEST_CLOSERS",
    )
]

# ruff: noqa: E501 (one digest per line reads best in the table below)
EXPECTED: dict[str, str] = {
    "catalog/books/n100/seeds0-19": "73b98266fc69fe047f34de1b0abb8ff3324fd28e505b5bf7935cad6423ecb1f6",
    "catalog/books/n3000/seeds0-2": "2a30db0753bc06126784733a32459c0fd367e7a80f8ca5bc5623677e8223c6b2",
    "catalog/books/n30000/seed5": "88e301ad82b2ec45ca46699506550283b51984ffb4d1aaf913ede8d8c340f582",
    "catalog/games/n100/seeds0-19": "85f12bccc6513f0c3fff5f30826adc735dcdd9e009226a8a0b4e97cb9b8ecad9",
    "catalog/games/n3000/seeds0-2": "64ba4bd2e93b9c27911e04c6f29dd502121c4425a0c50a6cc50df605d7243074",
    "catalog/games/n30000/seed5": "1b0083261c29c8493d1d5e2a9b14525c5f887c511dff25af13d447db4164b25f",
    "catalog/restaurants/n100/seeds0-19": "7aeccb7f0cb30e9902f840c4d65750ab0a10a87d969b0eda6015a5608a836203",
    "catalog/restaurants/n3000/seeds0-2": "f45652787935c0e74f9b16f26f18f13590d0059157d0e3b33de98f519708ccec",
    "catalog/restaurants/n30000/seed5": "7b0adcf3cedb5f0eceb83f4c252262373a1ad4c8b7c5e20180f2518e163b0334",
    "data/marketplace/names": "ce1d5daec1403a9d73915eac7abe056447e3bd7d1c8fbc2e12d86c9891fb6994",
    "data/marketplace/specs": "87c61c1ef5bb6591a77f1320847d645aff689d7e2b823610dd90e0426f809c00",
    "data/marketplace/texts": "a4e99cf17fa98a020bb51022078a4311787540a7222fc6284adc23b95335ba81",
    "data/recommendation/specs": "810fa26c63c932a969cca1702083708a6bd2d7b7c479acf4f4ab9c8152d58533",
    "domain/contractors/full": "21d6e7b0b943fc91f09a61dfca31a4b207c02152981c65c63078742c94f61abe",
    "domain/restaurants/full": "cb0d45aad2f77c21e2d4bab3a9c7f5ba35871492edfdb0897ec8490ce272c5f6",
    "market/contractors/competitive/seeds0-19": "9e03a4a66298006aa41abf44519167bb71c37307cd8e4b673c050e03d4792268",
    "market/contractors/identical/seeds0-19": "6cf77dfe48a3cdbd38af7c5cc0ee8ab6e19dfb934fdfd65d29b8e4fbf228a449",
    "market/contractors/malicious/seeds0-19": "6f2990508b7bd1b8fe13478b2cede904571a7d281e0262555cc9ce0b133cf36c",
    "market/contractors/progenitor/n4/seeds0-19": "9bf54d00adab1f1a2fd1f5b2b79e7eafabf0b3abc6104f51770b114ef3200c3b",
    "market/contractors/progenitor/n40/seeds0-1": "e2d9c1259e7027323f770d36e266df9b5df4df2a3a08592a0463399b56a473c5",
    "market/restaurants/competitive/seeds0-19": "e5aa5be6848ae77b14a2c3f6f6ef685a6eec5f624ecc03a6e0fdc0360a280ae5",
    "market/restaurants/identical/seeds0-19": "585ca28407510c8ff9c91ff505b87e2ea1f68de6224b9b945fd7bc2d0396d933",
    "market/restaurants/malicious/seeds0-19": "8b4db0a4b99a66cc97477984f21a8a7e75f5c7b2c839f756fbf8d92a3b937dbe",
    "market/restaurants/progenitor/n4/seeds0-19": "06bbc0ad254c6258d9fb7158ce5e3590aba19dcc9dc0d763e45f5477f6f22aa7",
    "market/restaurants/progenitor/n40/seeds0-1": "d54608b4e79fac367a7b01092327de5827abf6793fc62b9d30b42ddd35d851c2",
    "texts/contractors/seeds0-19": "43c3a2d29431d6ed3b80dd82cdb2b48dd7733e65177fe85c358e4f5a13c3dd16",
    "texts/restaurants/seeds0-19": "bd01ca38b8d8ae00a38988a45cef551d38c6d3a8b0b848a718c2dbfba9b4113d",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_output_is_unchanged(case: str) -> None:
    assert _digest(CASES[case]()) == EXPECTED[case], case


def test_every_case_has_a_digest() -> None:
    assert sorted(EXPECTED) == sorted(CASES)


if __name__ == "__main__":
    for _case in sorted(CASES):
        print(f"    {_case!r}: {_digest(CASES[_case]())!r},")
