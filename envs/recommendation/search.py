"""Item search over a recommendation catalog: BM25 keyword search, semantic search, filters.

What a recommender's ``Search[...]`` tool calls (ECPO's agents retrieve the top 5) and what a
parsed feed command filters on (RecBot). One `CatalogSearch` is built per catalog and shared:

* ``keyword``: Okapi BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))) over
  each item's title, description, category and attribute values. Text is lowercased and split
  into alphanumeric tokens; a short stopword list is dropped, and a query counts each distinct
  term once. The inverted index (term -> sorted item ids with their precomputed BM25 term
  scores) is built once, in numpy, so a query costs a ``np.bincount`` over its terms' postings:
  about a millisecond on 100,000 items. Only items matching some query term are returned.
* ``semantic``: cosine similarity of all-MiniLM-L6-v2 embeddings of the query and of each item's
  title, category and description; item vectors are computed on the first semantic query and
  cached on disk per catalog (`envs.core.embedding.cached_embeddings`). On CPU that first query
  costs minutes at 10,000 items and far longer at 100,000: pass ``encoder_factory=lambda:
  sentence_encoder("cuda")`` or warm the cache beforehand. Later queries take 1-20 ms.
* ``filter``: the ids of items whose category and attribute values satisfy every constraint.

Results are ``(ids, scores)``, best first, ties broken by lower id; ``candidates`` restricts a
search to some items (e.g. a filter's result).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from envs.core.embedding import TextEncoder, cached_embeddings, query_vector, sentence_encoder
from envs.recommendation.catalog import Catalog

METHODS = ("keyword", "semantic")
K1 = 1.2
B = 0.75
# fmt: off
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "i", "in",
    "is", "it", "its", "me", "my", "of", "on", "or", "s", "so", "that", "the", "their", "this",
    "to", "was", "were", "what", "which", "with", "you", "your",
))
# fmt: on
"""Dropped from item texts and queries: too common to rank by."""

_TOKEN = re.compile(r"[^\W_]+")
_SEPARATOR = "\n"  # between items in the joined corpus; item texts never contain it
_TOKEN_OR_SEPARATOR = re.compile(r"[^\W_]+|\n")
_BUILD_CHUNK = 8192

Results = tuple[np.ndarray, np.ndarray]
"""Item ids (int64) and their scores (float64), best first."""


def tokenize(text: str) -> list[str]:
    """Lowercased alphanumeric tokens of ``text`` without stopwords (what BM25 matches)."""
    return [token for token in _TOKEN.findall(text.lower()) if token not in STOPWORDS]


def keyword_text(catalog: Catalog, item: int) -> str:
    """The text BM25 indexes for ``item``: title, description, category, attribute values."""
    values = " ".join(catalog.value_of(item, a) for a in catalog.attribute_names)
    category = catalog.category_names[int(catalog.categories[item])]
    return f"{catalog.titles[item]} {catalog.descriptions[item]} {category} {values}"


def semantic_text(catalog: Catalog, item: int) -> str:
    """The text semantic search embeds for ``item``: title, category and description."""
    category = catalog.category_names[int(catalog.categories[item])]
    return f"{catalog.titles[item]}. {category.capitalize()}. {catalog.descriptions[item]}"


def catalog_namespace(catalog: Catalog) -> str:
    """The embedding-cache namespace of a catalog (the text hash ensures validity)."""
    return f"catalog-{catalog.domain}-{len(catalog)}-{catalog.seed}"


def _empty() -> Results:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)


class CatalogSearch:
    """Keyword, semantic and attribute search over one catalog (items are ids ``0..n-1``).

    The keyword index is built eagerly (about 1-2 s for 100,000 items); semantic vectors on the
    first semantic query. ``encoder_factory`` returns the text encoder for semantic search
    (default: the shared all-MiniLM-L6-v2 `sentence_encoder`); it is called only then.
    """

    def __init__(
        self, catalog: Catalog, *, encoder_factory: Callable[[], TextEncoder] | None = None
    ) -> None:
        self.catalog = catalog
        self.size = len(catalog)
        self._encoder_factory = encoder_factory or sentence_encoder
        self._build_keyword_index()
        self._vectors: np.ndarray | None = None
        self._encoder: TextEncoder | None = None
        self._query_vectors: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the encoder and vectors; a copy re-obtains them lazily (shared encoder,
        disk cache) instead of shipping a model and 150 MB of vectors at 100,000 items."""
        state = self.__dict__.copy()
        state.update(_vectors=None, _encoder=None, _query_vectors={})
        return state

    # ------------------------------------------------------------------------------ building

    def _item_texts(self) -> list[str]:
        """`keyword_text` of every item, attribute values looked up once per value."""
        catalog = self.catalog
        columns = [
            [catalog.category_names[c] for c in catalog.categories.tolist()],
            *(
                [catalog.attribute_values[name][c] for c in catalog.attributes[name].tolist()]
                for name in catalog.attribute_names
            ),
        ]
        return [
            " ".join((title, description, *values)).replace(_SEPARATOR, " ")
            for title, description, *values in zip(
                catalog.titles, catalog.descriptions, *columns, strict=True
            )
        ]

    def _build_keyword_index(self) -> None:
        """A CSR inverted index: term id -> sorted item ids and their BM25 term scores.

        Texts are tokenised in chunks, one regex pass over each chunk's texts joined by a
        separator token, and kept as int64 (term, item) keys only, so token strings never pile
        up; one in-place sort of the keys counts term frequencies.
        """
        n = self.size
        width = max(n, 1)
        texts = self._item_texts()
        vocabulary: dict[str, int] = {_SEPARATOR: 0}
        for word in sorted(STOPWORDS):
            vocabulary[word] = len(vocabulary)
        last_stop = len(vocabulary) - 1  # ids up to here are the separator and stopwords
        key_chunks = []
        for start in range(0, n, _BUILD_CHUNK):
            chunk = texts[start : start + _BUILD_CHUNK]
            tokens = _TOKEN_OR_SEPARATOR.findall(_SEPARATOR.join(chunk).lower())
            ids = np.fromiter(
                (vocabulary.setdefault(t, len(vocabulary)) for t in tokens),
                dtype=np.int64,
                count=len(tokens),
            )
            owner = start + np.cumsum(ids == 0)  # separators before each token
            keep = ids > last_stop
            key_chunks.append(ids[keep] * width + owner[keep])
        keys = np.concatenate(key_chunks) if key_chunks else np.zeros(0, dtype=np.int64)
        del texts, key_chunks  # peak: about 90 MB at 100,000 items, 25 MB kept
        keys.sort()
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        heads = np.flatnonzero(first)
        tf = np.diff(np.append(heads, len(keys))).astype(np.float64)
        keys = keys[heads]
        del first, heads
        terms, items = keys // width, keys % width
        del keys
        self._lengths = np.bincount(items, weights=tf, minlength=n)
        average = float(self._lengths.mean()) if n else 0.0
        df = np.bincount(terms, minlength=len(vocabulary))
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = K1 * (1.0 - B + B * self._lengths / max(average, 1e-12))
        self._average_length = average
        self._idf = idf
        self._vocabulary = {t: i for t, i in vocabulary.items() if i > last_stop}
        self._starts = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(df, out=self._starts[1:])
        self._items = items.astype(np.int32)
        impacts = tf * (K1 + 1.0)
        impacts /= tf + norm[items]
        impacts *= idf[terms]
        self._impacts = impacts

    # ----------------------------------------------------------------------------- searching

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        method: str = "keyword",
        candidates: np.ndarray | Sequence[int] | None = None,
    ) -> Results:
        """`keyword` or `semantic` search, by ``method``."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        if method == "keyword":
            return self.keyword(query, k, candidates=candidates)
        return self.semantic(query, k, candidates=candidates)

    def keyword(
        self,
        query: str,
        k: int = 10,
        *,
        candidates: np.ndarray | Sequence[int] | None = None,
    ) -> Results:
        """The ``k`` best BM25 matches of ``query`` (among ``candidates``, default all items).

        Only items containing some query term are returned, so fewer than ``k`` may come back;
        an empty query, or one of stopwords and unknown words only, returns empty arrays.
        """
        k = self._check(query, k)
        ids = self._candidates(candidates)
        scores = self.keyword_scores(query)
        if scores is None:
            return _empty()
        ids = np.flatnonzero(scores > 0.0) if ids is None else ids[scores[ids] > 0.0]
        return self._top(ids, scores[ids], k)

    def keyword_scores(self, query: str) -> np.ndarray | None:
        """BM25 scores of every item for ``query`` (0 where no term matches), or None when the
        query has no indexed term."""
        terms = sorted({self._vocabulary[t] for t in tokenize(query) if t in self._vocabulary})
        if not terms:
            return None
        spans = [(int(self._starts[t]), int(self._starts[t + 1])) for t in terms]
        items = np.concatenate([self._items[a:b] for a, b in spans])
        impacts = np.concatenate([self._impacts[a:b] for a, b in spans])
        return np.bincount(items, weights=impacts, minlength=self.size)

    def semantic(
        self,
        query: str,
        k: int = 10,
        *,
        candidates: np.ndarray | Sequence[int] | None = None,
    ) -> Results:
        """The ``k`` items (among ``candidates``) whose embeddings are most cosine-similar to the
        query's; an empty query returns empty arrays."""
        k = self._check(query, k)
        ids = self._candidates(candidates)
        if not query.strip():
            return _empty()
        similarity = self._similarity(query, ids)
        if ids is None:
            return self._top(np.arange(self.size, dtype=np.int64), similarity, k)
        return self._top(ids, similarity[ids], k)

    def filter(self, constraints: Mapping[str, str | Sequence[str]]) -> np.ndarray:
        """Sorted ids of the items meeting every constraint.

        Keys are ``"category"`` or attribute names; a value is one allowed value or a sequence of
        them (any may match; an empty sequence matches nothing). Values compare case-blind.
        """
        catalog = self.catalog
        mask = np.ones(self.size, dtype=bool)
        for name, wanted in constraints.items():
            if name == "category":
                allowed, codes = catalog.category_names, catalog.categories
            elif name in catalog.attributes:
                allowed, codes = catalog.attribute_values[name], catalog.attributes[name]
            else:
                known = ", ".join(("category", *catalog.attribute_names))
                raise ValueError(f"unknown attribute {name!r}; expected one of {known}")
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            lookup = {value.lower(): code for code, value in enumerate(allowed)}
            table = np.zeros(len(allowed), dtype=bool)
            for value in values:
                code = lookup.get(value.lower()) if isinstance(value, str) else None
                if code is None:
                    raise ValueError(
                        f"unknown {name} value {value!r}; expected one of {', '.join(allowed)}"
                    )
                table[code] = True
            mask &= table[codes]
        return np.flatnonzero(mask).astype(np.int64, copy=False)

    # ------------------------------------------------------------------------------- helpers

    def _check(self, query: object, k: object) -> int:
        if not isinstance(query, str):
            raise ValueError(f"query must be a str; got {type(query).__name__}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be an int >= 1; got {k!r}")
        return int(k)

    def _candidates(self, candidates: np.ndarray | Sequence[int] | None) -> np.ndarray | None:
        """Sorted distinct candidate ids, or None for every item."""
        if candidates is None:
            return None
        ids = np.asarray(candidates).reshape(-1)
        if ids.size == 0:
            return np.zeros(0, dtype=np.int64)
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"candidates must be item ids (ints); got dtype {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        if ids.min() < 0 or ids.max() >= self.size:
            raise ValueError(f"candidates must be item ids in [0, {self.size})")
        if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
            ids = np.unique(ids)
        return ids

    @staticmethod
    def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> Results:
        """The ``k`` best of ``ids`` by score (descending), ties by lower id.

        A partition finds the k-th best score; only items tied with or above it are sorted.
        """
        if len(ids) > k:
            threshold = scores[np.argpartition(-scores, k - 1)[:k]].min()
            keep = scores >= threshold
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))[:k]
        return ids[order].astype(np.int64, copy=False), scores[order].astype(np.float64)

    def _similarity(self, query: str, ids: np.ndarray | None) -> np.ndarray:
        """Cosine similarity of the query with items ``ids`` (default all), indexed by item id
        (float32; NaN outside ``ids``). A small candidate set multiplies only its own rows."""
        if self._vectors is None:
            self._encoder = self._encoder_factory()
            texts = [semantic_text(self.catalog, i) for i in range(self.size)]
            self._vectors = cached_embeddings(
                texts, catalog_namespace(self.catalog), encoder=self._encoder
            )
        assert self._encoder is not None
        vector = query_vector(self._encoder, self._query_vectors, query)
        if ids is None or 4 * len(ids) >= self.size:
            return self._vectors @ vector
        similarity = np.full(self.size, np.nan, dtype=np.float32)
        similarity[ids] = self._vectors[ids] @ vector
        return similarity
