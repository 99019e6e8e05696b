"""Catalog generation: shapes and ranges, determinism per seed, unique titles (also at 100,000
items), the catchy-but-poor subset, plausible prices and texts, bounds errors, the cache."""

from __future__ import annotations

import re

import numpy as np
import pytest

from envs.recommendation.catalog import DOMAINS, Catalog
from envs.recommendation.catalog_generator import (
    _GAMES,
    _RESTAURANTS,
    CATCHY_SHARE,
    MAX_ITEMS,
    MIN_ITEMS,
    _make_unique,
    catalog_for,
    catchy_but_poor,
    generate_catalog,
)

COLUMNS = ("categories", "price", "quality", "engagement", "popularity")


@pytest.fixture(scope="module", params=DOMAINS)
def catalog(request: pytest.FixtureRequest) -> Catalog:
    return generate_catalog(request.param, 2_000, seed=7)


def test_shapes_codes_and_ranges(catalog: Catalog) -> None:
    n = len(catalog)
    assert n == 2_000 and len(catalog.titles) == len(catalog.descriptions) == n
    assert catalog.domain in DOMAINS and catalog.seed == 7
    assert 6 <= len(catalog.category_names) <= 10
    assert 4 <= len(catalog.attributes) <= 5
    assert set(catalog.attributes) == set(catalog.attribute_values)
    for name in COLUMNS:
        assert getattr(catalog, name).shape == (n,), name
    assert catalog.categories.min() >= 0
    assert catalog.categories.max() < len(catalog.category_names)
    assert len(np.unique(catalog.categories)) == len(catalog.category_names)  # all used
    for name, codes in catalog.attributes.items():
        values = catalog.attribute_values[name]
        assert 3 <= len(values) <= 8 and len(set(values)) == len(values)
        assert codes.shape == (n,) and codes.min() >= 0 and codes.max() < len(values)
    assert np.all((catalog.quality >= 0) & (catalog.quality <= 1))
    assert np.all((catalog.engagement >= 0) & (catalog.engagement <= 1))
    assert np.all(np.isfinite(catalog.price)) and catalog.price.min() > 0
    assert np.all(np.isfinite(catalog.popularity)) and catalog.popularity.min() > 0
    assert "$" in catalog.describe(0) and catalog.titles[0] in catalog.describe(0)


def test_titles_are_unique_and_plausible(catalog: Catalog) -> None:
    assert len(set(catalog.titles)) == len(catalog)
    for title in catalog.titles:
        assert title == title.strip() and "  " not in title and "{" not in title
        assert title[0].isupper() or title[0].isdigit(), title


def test_descriptions_are_one_or_two_varied_sentences(catalog: Catalog) -> None:
    for text in catalog.descriptions:
        assert text[0].isupper() and text.endswith("."), text
        assert 1 <= len(re.findall(r"[.!?](?:\s|$)", text)) <= 2, text
        assert "{" not in text and "  " not in text, text
    openings = {" ".join(text.split()[:2]) for text in catalog.descriptions}
    assert len(openings) > 50
    assert len(set(catalog.descriptions)) > 0.95 * len(catalog)


def test_restaurant_descriptions_name_the_cuisine() -> None:
    catalog = generate_catalog("restaurants", 500, seed=1)
    for item, text in enumerate(catalog.descriptions):
        cuisine = catalog.category_names[int(catalog.categories[item])]
        assert cuisine in text.lower(), text


def test_same_arguments_same_catalog_and_seeds_differ() -> None:
    a, b = generate_catalog("games", 300, seed=3), generate_catalog("games", 300, seed=3)
    assert a == b and a.titles == b.titles and a.descriptions == b.descriptions
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in a.attributes:
        np.testing.assert_array_equal(a.attributes[name], b.attributes[name])
    c = generate_catalog("games", 300, seed=4)
    assert len(set(a.titles) & set(c.titles)) < 30
    assert not np.array_equal(a.quality, c.quality)
    assert not np.array_equal(a.categories, c.categories)


def test_catchy_but_poor_subset() -> None:
    catalog = generate_catalog("books", 5_000, seed=2)
    catchy = catchy_but_poor(catalog)
    share = len(catchy) / len(catalog)
    assert 0.6 * CATCHY_SHARE <= share <= 1.5 * CATCHY_SHARE
    assert catalog.engagement[catchy].mean() > 0.75 and catalog.quality[catchy].mean() < 0.25
    rest = np.setdiff1d(np.arange(len(catalog)), catchy)
    # engagement is its own score: at most slightly anti-correlated with quality elsewhere
    assert -0.35 < np.corrcoef(catalog.quality[rest], catalog.engagement[rest])[0, 1] < 0.05
    # popularity rewards engagement: catchy items are more popular than their quality deserves
    assert np.median(catalog.popularity[catchy]) > np.median(catalog.popularity[rest])


def test_prices_follow_the_attributes() -> None:
    restaurants = generate_catalog("restaurants", 2_000, seed=0)
    band = restaurants.attributes["price_band"]
    means = [restaurants.price[band == code].mean() for code in range(4)]
    assert means == sorted(means) and means[0] > 5 and means[-1] < 300
    books = generate_catalog("books", 2_000, seed=0)
    formats = books.attribute_values["format"]
    fmt = books.attributes["format"]
    assert (
        books.price[fmt == formats.index("hardcover")].mean()
        > books.price[fmt == formats.index("ebook")].mean()
    )
    assert np.allclose(books.price % 1, 0.99)  # shop prices: $12.99


def test_categories_lean_attribute_values() -> None:
    games = generate_catalog("games", 5_000, seed=0)
    party = games.categories == games.category_names.index("party")
    players = games.attributes["players"] == games.attribute_values["players"].index("party")
    assert players[party].mean() > 3 * players[~party].mean()


def test_titles_stay_unique_at_the_maximum_size() -> None:
    catalog = generate_catalog("restaurants", MAX_ITEMS, seed=0)
    assert len(catalog) == MAX_ITEMS
    assert len(set(catalog.titles)) == MAX_ITEMS


def test_repeated_titles_get_domain_suffixes() -> None:
    spoken = {"neighbourhood_title": ["Old Town", "Harbour", "Uptown", "Uptown"]}
    titles = ["Hexfall", "Hexfall", "Hexfall II", "Hexfall"]
    assert _make_unique(titles, _GAMES, spoken) == (
        "Hexfall",
        "Hexfall Deluxe",  # " II" is another item's title
        "Hexfall II",
        "Hexfall III",
    )
    names = ["Fig Lane Kitchen"] * 3 + ["Fig Lane Kitchen (Uptown)"]
    assert _make_unique(names, _RESTAURANTS, spoken) == (
        "Fig Lane Kitchen",
        "Fig Lane Kitchen (Harbour)",
        "Fig Lane Kitchen No. 2",  # its branch name is taken too
        "Fig Lane Kitchen (Uptown)",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("books", MIN_ITEMS - 1), r"n_items must be an int in \[100, 100000\]; got 99"),
        (("books", MAX_ITEMS + 1), r"n_items must be an int in \[100, 100000\]"),
        (("books", 150.0), "n_items"),
        (("books", True), "n_items"),
        (("movies", 100), "domain must be one of books, games, restaurants; got 'movies'"),
        (("books", 100, -1), "seed must be a non-negative int"),
    ],
)
def test_bad_arguments(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_catalog(*args)
    with pytest.raises(ValueError, match=message):
        catalog_for(*args)


def test_catalog_for_caches_read_only_catalogs() -> None:
    first = catalog_for("books", 120, 9)
    assert catalog_for("books", 120, seed=9) is first
    assert catalog_for("books", np.int64(120), 9) is first
    assert first == generate_catalog("books", 120, 9)
    with pytest.raises(ValueError, match="read-only"):
        first.quality[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        first.attributes["tone"][0] = 0
