"""Seeded item catalogs for the recommendation environments: books, games and restaurants.

No third-party dataset can ship (Amazon Reviews and Yelp terms forbid it), so catalogs are written
from mercato's own word lists and templates, kept as YAML in `envs.recommendation.data`. Each
domain has 9 categories and 5 categorical attributes whose value frequencies lean per category
(fantasy skews young, French restaurants upscale) with a seeded jitter, so two seeds give different
but equally plausible catalogs.

* Titles come from per-category grammars ("The {adj} {noun}", "{compound} Tactics",
  "{flavor} {place} {venue}") and are made unique with a domain-flavoured suffix (a book series
  number, a game edition, a restaurant branch's neighbourhood) when a draw repeats.
* Quality ~ Beta(5, 3). Engagement (clickability) is drawn separately and leans slightly against
  quality; a 10% "catchy but poor" subset (RecSim's chocolate items) gets high engagement and low
  quality, and highly engaging items tend to carry a hype sentence in their description.
* Popularity is lognormal and rises with quality and, more, with engagement.
* Descriptions are one or two sentences naming the category and a few attribute values.

Everything derives from ``(domain, n_items, seed)`` through `envs.core.seeding.child_rng`, one
stream per part, so rewording a template never moves a price. 100,000 items take 1-2 s.
"""

from __future__ import annotations

import functools
import math
import numbers
import string
from collections import Counter
from collections.abc import Mapping

import numpy as np

from envs.core.seeding import child_rng
from envs.recommendation.catalog import DOMAINS, Catalog
from envs.recommendation.data import SPECS as _SPECS
from envs.recommendation.data import _Category, _Domain

MIN_ITEMS = 100
MAX_ITEMS = 100_000
CATCHY_SHARE = 0.10
"""Share of items drawn as catchy but poor: high engagement, low quality."""
CATCHY_ENGAGEMENT = 0.65
CATCHY_QUALITY = 0.35
"""Thresholds `catchy_but_poor` uses to pick those items out after the fact."""

_HYPE_ENGAGEMENT = 0.75
"""Items at least this engaging usually get a hype sentence instead of a plain second one."""
_HYPE_CHANCE = 0.7
_SECOND_SENTENCE_CHANCE = 0.6
_TITLE_FILL = 0.05
"""A title template is drawn at most this many times per distinct title it can write."""
_JITTER_SHAPE = 25.0
"""Gamma shape of the per-seed jitter on value frequencies (larger: closer to the base)."""


_BOOKS, _GAMES, _RESTAURANTS = _SPECS["books"], _SPECS["games"], _SPECS["restaurants"]


# --------------------------------------------------------------------------------- drawing


def _check(domain: object, n_items: object, seed: object) -> tuple[str, int, int]:
    """The arguments as (str, int, int), or a ValueError naming the bad one."""
    if not isinstance(domain, str) or domain not in DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(DOMAINS)}; got {domain!r}")
    if (
        isinstance(n_items, bool)
        or not isinstance(n_items, numbers.Integral)
        or not MIN_ITEMS <= int(n_items) <= MAX_ITEMS
    ):
        raise ValueError(f"n_items must be an int in [{MIN_ITEMS}, {MAX_ITEMS}]; got {n_items!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    return str(domain), int(n_items), int(seed)


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _sample_codes(weights: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One code per item from the row ``weights[groups[i]]`` (rows need not be normalised)."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(groups))
    codes = (u[:, None] >= cdf[groups]).sum(axis=1)
    return np.minimum(codes, weights.shape[1] - 1).astype(np.int32)


def _draw_structure(
    spec: _Domain, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Categories and attribute codes: base frequencies times category bias times seeded jitter."""
    c = len(spec.categories)
    jitter = rng.gamma(_JITTER_SHAPE, 1.0 / _JITTER_SHAPE, size=c)
    category_weights = np.array([cat.weight for cat in spec.categories]) * jitter
    categories = _sample_codes(category_weights[None, :], np.zeros(n, dtype=np.int64), rng)
    attributes: dict[str, np.ndarray] = {}
    for attribute in spec.attributes:
        index = {value: i for i, value in enumerate(attribute.values)}
        table = np.tile(np.asarray(attribute.weights, dtype=np.float64), (c, 1))
        for row, category in enumerate(spec.categories):
            for value, factor in category.bias.get(attribute.name, {}).items():
                table[row, index[value]] *= factor
        table *= rng.gamma(_JITTER_SHAPE, 1.0 / _JITTER_SHAPE, size=table.shape)
        attributes[attribute.name] = _sample_codes(table, categories, rng)
    return categories, attributes


def _draw_scores(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quality, engagement and popularity, with a ~10% catchy-but-poor subset."""
    quality = rng.beta(5.0, 3.0, size=n)
    base = rng.beta(2.0, 3.0, size=n)
    logit = np.log(base) - np.log1p(-base) - 1.0 * (quality - 5.0 / 8.0)
    engagement = 1.0 / (1.0 + np.exp(-logit))
    catchy = rng.permutation(n)[: round(CATCHY_SHARE * n)]
    quality[catchy] = rng.beta(2.0, 8.0, size=len(catchy))
    engagement[catchy] = rng.beta(8.0, 2.0, size=len(catchy))
    popularity = np.exp(rng.normal(3.3, 1.0, size=n) + 1.5 * quality + 1.5 * engagement)
    return quality, engagement, popularity


def _slot_lists(template: str) -> list[str]:
    """The word lists a template's slots draw from, in order (``{noun}`` -> ``noun``)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _positional(template: str) -> str:
    """``template`` with its named slots made positional, so repeated lists draw separately."""
    out, slot = [], 0
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name:
            out.append(f"{{{slot}}}")
            slot += 1
    return "".join(out)


def _template_odds(spec: _Domain, category: _Category, items: int) -> np.ndarray:
    """How often each of a category's title templates is used for ``items`` items.

    Equally often while every template has room; a template is capped at `_TITLE_FILL` of its
    distinct titles (split among the categories sharing it) and the rest goes to the others, so
    small templates ("Murder in {city}") stay rare at 100,000 items and titles seldom repeat.
    """
    uses = Counter(t for c in spec.categories for t in c.titles)
    caps = np.array(
        [
            _TITLE_FILL * math.prod(len(spec.words[s]) for s in _slot_lists(t)) / uses[t]
            for t in category.titles
        ]
    )
    if caps.sum() <= items:
        return caps / caps.sum()
    remaining, level = float(items), 0.0
    order = np.sort(caps)
    for i, cap in enumerate(order):
        if cap * (len(order) - i) >= remaining:
            level = remaining / (len(order) - i)
            break
        remaining -= cap
    odds = np.minimum(caps, level)
    return odds / odds.sum()


def _draw_titles(spec: _Domain, categories: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Base titles (not yet unique) from each category's grammar; a word list used twice in one
    template never repeats a word ("Salt & Salt")."""
    n = len(categories)
    titles: list[str] = [""] * n
    for code, category in enumerate(spec.categories):
        items = np.flatnonzero(categories == code)
        if len(items) == 0:
            continue
        odds = _template_odds(spec, category, len(items))
        choice = rng.choice(len(category.titles), size=len(items), p=odds)
        for t, template in enumerate(category.titles):
            chosen = items[choice == t]
            if len(chosen) == 0:
                continue
            columns: list[list[str]] = []
            drawn: dict[str, list[np.ndarray]] = {}
            for name in _slot_lists(template):
                words = spec.words[name]
                picks = rng.integers(len(words), size=len(chosen))
                earlier = drawn.setdefault(name, [])
                for _ in range(len(earlier)):  # shift past the words already in this title
                    clash = np.zeros(len(picks), dtype=bool)
                    for other in earlier:
                        clash |= picks == other
                    if not clash.any():
                        break
                    picks[clash] = (picks[clash] + 1) % len(words)
                earlier.append(picks)
                columns.append([words[p] for p in picks])
            form = _positional(template)
            for item, parts in zip(chosen.tolist(), zip(*columns, strict=True), strict=True):
                titles[item] = form.format(*parts)
    return titles


def _make_unique(
    titles: list[str], spec: _Domain, spoken: Mapping[str, list[str]]
) -> tuple[str, ...]:
    """Titles with every repeat after the first given the domain's next free suffix."""
    base = set(titles)
    if len(base) == len(titles):
        return tuple(titles)
    used: set[str] = set()
    seen: dict[str, int] = {}
    out = []
    for item, title in enumerate(titles):
        repeats = seen.get(title, 0)
        seen[title] = repeats + 1
        if repeats:
            values = {name: column[item] for name, column in spoken.items()}
            j = 1
            while True:
                candidate = title + spec.suffixes(j, values)
                if candidate not in base and candidate not in used:
                    break
                j += 1
            title = candidate
        used.add(title)
        out.append(title)
    return tuple(out)


def _three_distinct(size: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Three index columns in [0, size) with distinct entries per row (size >= 3)."""
    first = rng.integers(size, size=n)
    step2 = rng.integers(1, size, size=n)
    step3 = rng.integers(1, size - 1, size=n)
    step3 = step3 + (step3 >= step2)
    return first, (first + step2) % size, (first + step3) % size


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _draw_descriptions(
    spec: _Domain,
    categories: np.ndarray,
    spoken: Mapping[str, list[str]],
    engagement: np.ndarray,
    rng: np.random.Generator,
) -> tuple[str, ...]:
    """One or two sentences per item from templates: the category, what the item is about, and
    a few attribute values; highly engaging items usually get a hype sentence."""
    n = len(categories)
    cats = spec.categories
    noun_pick = rng.integers(1 << 30, size=n)
    cat_phrase = [
        cats[c].nouns[p % len(cats[c].nouns)]
        for c, p in zip(categories.tolist(), noun_pick.tolist(), strict=True)
    ]
    subject_cols: list[list[str]] = [[""] * n for _ in range(3)]
    for code, category in enumerate(cats):
        items = np.flatnonzero(categories == code)
        picks = _three_distinct(len(category.subjects), len(items), rng)
        for column, pick in zip(subject_cols, picks, strict=True):
            for item, p in zip(items.tolist(), pick.tolist(), strict=True):
                column[item] = category.subjects[p]
    cuisine = [cats[c].name.capitalize() for c in categories.tolist()]
    firsts = [c.first or spec.first for c in cats]
    first_pick = rng.integers(1 << 30, size=n)
    second_kind = rng.random(n)
    second_pick = rng.integers(len(spec.second), size=n)
    hype_pick = rng.integers(len(spec.hype), size=n)
    hyped = (engagement >= _HYPE_ENGAGEMENT) & (rng.random(n) < _HYPE_CHANCE)
    fields = {
        "cat": cat_phrase,
        "subject": subject_cols[0],
        "subject2": subject_cols[1],
        "subject3": subject_cols[2],
        "cuisine": cuisine,
        **spoken,
    }
    names = list(fields)
    columns = [fields[name] for name in names]
    out = []
    for item in range(n):
        values = {name: column[item] for name, column in zip(names, columns, strict=True)}
        templates = firsts[int(categories[item])]
        text = _sentence(templates[int(first_pick[item]) % len(templates)].format_map(values))
        if hyped[item]:
            text += " " + _sentence(spec.hype[int(hype_pick[item])].format_map(values))
        elif second_kind[item] < _SECOND_SENTENCE_CHANCE:
            text += " " + _sentence(spec.second[int(second_pick[item])].format_map(values))
        out.append(text)
    return tuple(out)


def _spoken_fields(spec: _Domain, attributes: Mapping[str, np.ndarray]) -> dict[str, list[str]]:
    """Per item, how descriptions say each attribute value: ``<name>``, ``a_<name>`` (with its
    article), ``<name>_title`` (title case) and the domain's extra wordings."""
    spoken: dict[str, list[str]] = {}
    for attribute in spec.attributes:
        words = [attribute.spoken.get(v, v) for v in attribute.values]
        codes = attributes[attribute.name].tolist()
        spoken[attribute.name] = [words[c] for c in codes]
        articled = [_article(w) for w in words]
        spoken["a_" + attribute.name] = [articled[c] for c in codes]
        titled = [string.capwords(v) for v in attribute.values]
        spoken[attribute.name + "_title"] = [titled[c] for c in codes]
    for name, (attribute, wording) in spec.extra.items():
        values = next(a for a in spec.attributes if a.name == attribute).values
        words = [wording[v] for v in values]
        articled = [_article(w) for w in words]
        codes = attributes[attribute].tolist()
        spoken[name] = [words[c] for c in codes]
        spoken["a_" + name] = [articled[c] for c in codes]
    return spoken


def generate_catalog(domain: str, n_items: int, seed: int = 0) -> Catalog:
    """A seeded catalog of ``n_items`` items (100 to 100,000) for ``domain`` (books, games,
    restaurants); the same arguments always give the same catalog, in any process.

    Arrays are read-only, so a catalog can be shared (`catalog_for` caches them). Prices are
    retail prices for books and games and the average spend per person for restaurants;
    popularity is a lognormal count-like prior (median about 125) of how often an item is chosen.
    """
    domain, n, seed = _check(domain, n_items, seed)
    spec = _SPECS[domain]
    categories, attributes = _draw_structure(spec, n, child_rng(seed, "catalog", domain, n, "kind"))
    quality, engagement, popularity = _draw_scores(
        n, child_rng(seed, "catalog", domain, n, "scores")
    )
    price = spec.price(
        attributes, spec.attributes, child_rng(seed, "catalog", domain, n, "price")
    ).astype(np.float64)
    spoken = _spoken_fields(spec, attributes)
    titles = _make_unique(
        _draw_titles(spec, categories, child_rng(seed, "catalog", domain, n, "titles")),
        spec,
        spoken,
    )
    descriptions = _draw_descriptions(
        spec, categories, spoken, engagement, child_rng(seed, "catalog", domain, n, "text")
    )
    for column in (categories, price, quality, engagement, popularity, *attributes.values()):
        column.setflags(write=False)
    return Catalog(
        domain=domain,
        seed=seed,
        titles=titles,
        descriptions=descriptions,
        categories=categories,
        category_names=tuple(c.name for c in spec.categories),
        attributes=attributes,
        attribute_values={a.name: a.values for a in spec.attributes},
        price=price,
        quality=quality,
        engagement=engagement,
        popularity=popularity,
    )


@functools.lru_cache(maxsize=4)
def _cached_catalog(domain: str, n_items: int, seed: int) -> Catalog:
    return generate_catalog(domain, n_items, seed)


def catalog_for(domain: str, n_items: int, seed: int = 0) -> Catalog:
    """`generate_catalog`, remembering the last 4 catalogs asked for (envs share one catalog)."""
    return _cached_catalog(*_check(domain, n_items, seed))


def catchy_but_poor(
    catalog: Catalog,
    engagement_min: float = CATCHY_ENGAGEMENT,
    quality_max: float = CATCHY_QUALITY,
) -> np.ndarray:
    """Ids of items that look clickable but are poor (engagement >= ``engagement_min`` and
    quality <= ``quality_max``): the items an engagement-chasing recommender over-serves."""
    mask = (catalog.engagement >= engagement_min) & (catalog.quality <= quality_max)
    return np.flatnonzero(mask)
