"""Feed commands ("no more horror", "under $20", "more like this") as structured constraints.

A `Constraint` is what one command asks of the feed; `ActiveConstraints` is what the feed must
respect from then on (exclusions, "only" sets and a price ceiling persist; "more like" and
"something different" apply to the next slate only). `parse_command` is the rule-based parser;
anything with the `CommandParser` shape (e.g. an LLM parser in `agents.scripted.feed`) can stand
in for it. `honours` judges whether a slate honours a command (the command satisfaction rate).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import numpy as np

from envs.recommendation.catalog import Catalog

THIS = -1
"""`Constraint.similar_to` for "more like this": the env resolves it to the item in focus."""
CHEAPER_FACTOR = 0.8
""""cheaper" asks for items under this share of the last slate's mean price."""
NO_CEILING = 0.0
"""An `ActiveConstraints.max_price` of 0 means no price ceiling."""

_CLAUSES = re.compile(r"[,;.!?\n]+|\s+\b(?:and|but|also|plus)\b\s+")
_DIFFERENT = re.compile(
    r"\b(something (else|different|new)|surprise me|mix it up|different|variety|shake it up)\b"
)
_SIMILAR = re.compile(
    r"\b(?:(?:more|something|anything|stuff|things|items|others?|ones?)\s+like|similar to)\s+(.+)"
)
_THIS = re.compile(r"^(this|that|these|those|it|the (last|previous) (one|item)|what i clicked)\b")
_UNDER = re.compile(
    r"\b(?:under|below|less than|cheaper than|max(?:imum)?|at most|up to|no more than|budget"
    r"(?: of| is)?)\s*\$?\s*(\d+(?:\.\d+)?)"
)
_CHEAPER = re.compile(
    r"\b(cheaper|less expensive|too (expensive|pricey|costly)|lower prices?|more affordable|"
    r"cheap)\b"
)
_EXCLUDE = re.compile(
    r"\b(no more|no|not|stop(?: showing(?: me)?)?|don'?t (?:show|want|like)(?: me)?|without|"
    r"fewer|less|hide|avoid|hate|dislike|enough(?: of)?|never|tired of|sick of)\b"
)
_ONLY = re.compile(r"\b(only|just|nothing but|exclusively)\b")
_FUZZY_POOL = 200
_STOP = frozenset(
    ("a", "an", "the", "of", "me", "more", "some", "any", "please", "show", "i", "want", "like")
)


@dataclass(frozen=True)
class Constraint:
    """What one command asks. Values are ``(attribute, code)`` pairs; ``max_price`` None means
    no price clause; ``cheaper`` is a relative price clause the env resolves against the last
    slate; ``similar_to`` is an item id (`THIS` until resolved); ``understood`` is False when
    the parser found nothing it knows."""

    text: str
    understood: bool = True
    exclude_categories: frozenset[int] = frozenset()
    exclude_values: frozenset[tuple[str, int]] = frozenset()
    only_categories: frozenset[int] = frozenset()
    only_values: frozenset[tuple[str, int]] = frozenset()
    max_price: float | None = None
    cheaper: bool = False
    similar_to: int | None = None
    different: bool = False

    @property
    def kinds(self) -> tuple[str, ...]:
        """The clause kinds present: exclude, only, price, similar, different (or unknown)."""
        kinds = []
        if self.exclude_categories or self.exclude_values:
            kinds.append("exclude")
        if self.only_categories or self.only_values:
            kinds.append("only")
        if self.max_price is not None or self.cheaper:
            kinds.append("price")
        if self.similar_to is not None:
            kinds.append("similar")
        if self.different:
            kinds.append("different")
        return tuple(kinds) if self.understood and kinds else ("unknown",)


@runtime_checkable
class CommandParser(Protocol):
    """Turns a user's command text into a `Constraint` over ``catalog``'s vocabulary."""

    def parse(self, text: str, catalog: Catalog) -> Constraint: ...


class RuleCommandParser:
    """The rule-based baseline parser (`parse_command`)."""

    name = "rules"

    def parse(self, text: str, catalog: Catalog) -> Constraint:
        return parse_command(text, catalog)


# Vocabulary ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """Category names and attribute values of a catalog, as lowercase phrases, longest first."""

    terms: tuple[tuple[str, str, int], ...]  # (phrase, attribute or "" for a category, code)
    titles: tuple[str, ...] = field(repr=False)

    @classmethod
    def of(cls, catalog: Catalog) -> Vocabulary:
        terms = [(name.lower(), "", code) for code, name in enumerate(catalog.category_names)]
        for attribute, values in catalog.attribute_values.items():
            terms += [(value.lower(), attribute, code) for code, value in enumerate(values)]
        terms.sort(key=lambda term: -len(term[0]))
        return cls(tuple(terms), tuple(title.lower() for title in catalog.titles))

    def find(self, fragment: str) -> tuple[frozenset[int], frozenset[tuple[str, int]]]:
        """The categories and attribute values named in ``fragment`` (plurals tolerated; a longer
        phrase wins over a phrase inside it, "science fiction" over "fiction")."""
        text = f" {fragment.lower()} "
        categories: set[int] = set()
        values: set[tuple[str, int]] = set()
        for phrase, attribute, code in self.terms:
            pattern = rf"(?<![\w-]){_plural(phrase)}(?![\w-])"
            if re.search(pattern, text):
                text = re.sub(pattern, " | ", text)
                if attribute:
                    values.add((attribute, code))
                else:
                    categories.add(code)
        return frozenset(categories), frozenset(values)

    @functools.cached_property
    def title_words(self) -> tuple[frozenset[str], ...]:
        """Each title's words (built on the first fuzzy title lookup)."""
        return tuple(frozenset(re.findall(r"\w+", title)) for title in self.titles)

    def title(self, fragment: str) -> int | None:
        """The item whose title ``fragment`` names: an exact title inside it (the longest), else
        the closest title (difflib, cutoff 0.6) among the `_FUZZY_POOL` sharing most words."""
        fragment = fragment.strip().strip("\"'").lower()
        if not fragment:
            return None
        inside = [(len(t), -i) for i, t in enumerate(self.titles) if t and t in fragment]
        if inside:
            return -max(inside)[1]
        words = set(re.findall(r"\w+", fragment)) - _STOP
        overlap = [(-len(words & w), i) for i, w in enumerate(self.title_words) if words & w]
        pool = [i for _, i in sorted(overlap)[:_FUZZY_POOL]]
        names = [self.titles[i] for i in pool]
        close = difflib.get_close_matches(fragment, names, n=1, cutoff=0.6)
        return pool[names.index(close[0])] if close else None


def _plural(phrase: str) -> str:
    """A regex for ``phrase`` or its plural (mystery/mysteries, thriller/thrillers)."""
    stem = re.escape(phrase)
    if phrase.endswith("y") and len(phrase) > 2:
        return rf"(?:{stem}|{re.escape(phrase[:-1])}ies)"
    return rf"{stem}(?:e?s)?"


_VOCABULARIES: dict[int, tuple[Catalog, Vocabulary]] = {}


def vocabulary(catalog: Catalog) -> Vocabulary:
    """The catalog's `Vocabulary`, built once per catalog object (the last 4 are kept, as
    `catalog_for` keeps its catalogs)."""
    cached = _VOCABULARIES.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    if len(_VOCABULARIES) >= 4:
        _VOCABULARIES.pop(next(iter(_VOCABULARIES)))
    built = Vocabulary.of(catalog)
    _VOCABULARIES[id(catalog)] = (catalog, built)
    return built


# Parsing ---------------------------------------------------------------------------------------


def parse_command(text: str, catalog: Catalog) -> Constraint:
    """The constraint a command asks for, by rules, clause by clause ("no more horror, under $20"
    has two clauses). Forms: "no more / no / stop showing / without X" (exclude), "only / just X"
    (only), "under $N" / "below N" (price ceiling), "cheaper" / "too expensive" (relative
    ceiling), "more like this" / "more like <title>" / "similar to <title>" (similar),
    "something different" / "surprise me" (different). Anything else: ``understood=False``."""
    words = vocabulary(catalog)
    parts: list[Constraint] = []
    for clause in _CLAUSES.split(text.lower()):
        clause = clause.strip()
        if clause:
            parts.append(_clause(clause, words))
    understood = [part for part in parts if part.understood]
    if not understood:
        return Constraint(text, understood=False)
    return replace(combine(understood), text=text)


def _clause(clause: str, words: Vocabulary) -> Constraint:
    if _DIFFERENT.search(clause):
        return Constraint(clause, different=True)
    similar = _SIMILAR.search(clause)
    if similar:
        target = similar.group(1).strip()
        if _THIS.match(target):
            return Constraint(clause, similar_to=THIS)
        item = words.title(target)
        if item is not None:
            return Constraint(clause, similar_to=item)
    under = _UNDER.search(clause)
    if under and float(under.group(1)) > 0:
        return Constraint(clause, max_price=float(under.group(1)))
    if _CHEAPER.search(clause):
        return Constraint(clause, cheaper=True)
    negation, only = _EXCLUDE.search(clause), _ONLY.search(clause)
    if only and (not negation or only.start() < negation.start()):
        categories, values = words.find(clause[only.end() :])
        if categories or values:
            return Constraint(clause, only_categories=categories, only_values=values)
    if negation:
        categories, values = words.find(clause[negation.end() :])
        if categories or values:
            return Constraint(clause, exclude_categories=categories, exclude_values=values)
    return Constraint(clause, understood=False)


def combine(parts: Sequence[Constraint]) -> Constraint:
    """Several clauses as one constraint (later price and similar clauses win)."""
    result = parts[0]
    for part in parts[1:]:
        result = Constraint(
            f"{result.text}, {part.text}",
            exclude_categories=result.exclude_categories | part.exclude_categories,
            exclude_values=result.exclude_values | part.exclude_values,
            only_categories=result.only_categories | part.only_categories,
            only_values=result.only_values | part.only_values,
            max_price=part.max_price if part.max_price is not None else result.max_price,
            cheaper=result.cheaper or part.cheaper,
            similar_to=part.similar_to if part.similar_to is not None else result.similar_to,
            different=result.different or part.different,
        )
    return result


def constraint_from_fields(fields: Mapping[str, str], catalog: Catalog, text: str) -> Constraint:
    """A constraint from keyed fields (EXCLUDE, ONLY, MAX_PRICE, CHEAPER, MORE_LIKE, DIFFERENT),
    the structured answer an LLM parser asks its model for; terms map to the catalog's
    vocabulary with the same rules as `parse_command`."""
    words = vocabulary(catalog)

    def given(key: str) -> str:
        value = fields.get(key, "").strip().strip(".")
        return "" if value.lower() in ("", "none", "no", "n/a", "-") else value

    exclude = words.find(given("EXCLUDE")) if given("EXCLUDE") else (frozenset(), frozenset())
    only = words.find(given("ONLY")) if given("ONLY") else (frozenset(), frozenset())
    price = re.search(r"\d+(?:\.\d+)?", given("MAX_PRICE"))
    like = given("MORE_LIKE")
    similar = THIS if like and _THIS.match(like.lower()) else (words.title(like) if like else None)
    constraint = Constraint(
        text,
        exclude_categories=exclude[0],
        exclude_values=exclude[1],
        only_categories=only[0],
        only_values=only[1],
        max_price=float(price.group()) if price and float(price.group()) > 0 else None,
        cheaper=given("CHEAPER").lower().startswith("y"),
        similar_to=similar,
        different=given("DIFFERENT").lower().startswith("y"),
    )
    return constraint if constraint.kinds != ("unknown",) else Constraint(text, understood=False)


# Resolving and tracking ------------------------------------------------------------------------


def resolve(
    constraint: Constraint, catalog: Catalog, last_slate: Iterable[int], focus: int
) -> Constraint:
    """Fill the clauses that depend on what the user saw: "cheaper" becomes a ceiling at
    `CHEAPER_FACTOR` of the last slate's mean price, "more like this" the ``focus`` item (the
    last click, else the last slate's first item). Unresolvable: ``understood=False``."""
    if not constraint.understood:
        return constraint
    shown = [int(i) for i in last_slate if int(i) >= 0]
    changes: dict[str, object] = {}
    if constraint.cheaper and constraint.max_price is None:
        if not shown:
            return replace(constraint, understood=False)
        mean_price = float(np.mean(catalog.price[shown]))
        changes["max_price"] = round(CHEAPER_FACTOR * mean_price, 2)
    if constraint.similar_to == THIS:
        anchor = focus if focus >= 0 else (shown[0] if shown else -1)
        if anchor < 0:
            return replace(constraint, understood=False)
        changes["similar_to"] = anchor
    return replace(constraint, **changes) if changes else constraint


@dataclass(frozen=True)
class ActiveConstraints:
    """What the feed must respect now. Exclusions, "only" sets and the price ceiling persist;
    ``similar_to`` (-1: none) and ``different`` hold for the next slate only."""

    exclude_categories: frozenset[int] = frozenset()
    exclude_values: frozenset[tuple[str, int]] = frozenset()
    only_categories: frozenset[int] = frozenset()
    only_values: frozenset[tuple[str, int]] = frozenset()
    max_price: float = NO_CEILING
    similar_to: int = -1
    different: bool = False

    def merged(self, new: Constraint) -> ActiveConstraints:
        """After ``new``: a new exclusion drops the same term from the "only" sets and the
        reverse; an "only" clause replaces the "only" set of its facet; a ceiling replaces the
        ceiling."""
        if not new.understood:
            return self
        only_categories = new.only_categories or self.only_categories - new.exclude_categories
        replaced = {attribute for attribute, _ in new.only_values}
        kept_values = {v for v in self.only_values if v[0] not in replaced}
        only_values = frozenset(kept_values | new.only_values) - new.exclude_values
        return ActiveConstraints(
            exclude_categories=(self.exclude_categories | new.exclude_categories)
            - new.only_categories,
            exclude_values=(self.exclude_values | new.exclude_values) - new.only_values,
            only_categories=frozenset(only_categories),
            only_values=only_values,
            max_price=new.max_price if new.max_price is not None else self.max_price,
            similar_to=new.similar_to if new.similar_to is not None else -1,
            different=new.different,
        )

    def after_slate(self) -> ActiveConstraints:
        """The one-slate clauses spent."""
        return replace(self, similar_to=-1, different=False)

    def allowed(self, catalog: Catalog, items: np.ndarray) -> np.ndarray:
        """Whether each of ``items`` respects the persistent constraints."""
        return allowed_mask(
            catalog.categories[items],
            {a: catalog.attributes[a][items] for a in catalog.attributes},
            catalog.price[items],
            self.exclude_categories,
            self.exclude_values,
            self.only_categories,
            self.only_values,
            self.max_price,
        )


def allowed_mask(
    categories: np.ndarray,
    attributes: Mapping[str, np.ndarray],
    prices: np.ndarray,
    exclude_categories: Iterable[int],
    exclude_values: Iterable[tuple[str, int]],
    only_categories: Iterable[int],
    only_values: Iterable[tuple[str, int]],
    max_price: float | None,
) -> np.ndarray:
    """Which items (given as columns) pass the exclusions, the "only" sets (per attribute: one of
    its listed values) and the price ceiling (None or 0: none)."""
    ok = ~np.isin(categories, list(exclude_categories))
    for attribute, code in exclude_values:
        ok &= attributes[attribute] != code
    only_categories = list(only_categories)
    if only_categories:
        ok &= np.isin(categories, only_categories)
    by_attribute: dict[str, list[int]] = {}
    for attribute, code in only_values:
        by_attribute.setdefault(attribute, []).append(code)
    for attribute, codes in by_attribute.items():
        ok &= np.isin(attributes[attribute], codes)
    if max_price:
        ok &= prices <= max_price + 1e-9
    return ok


def similar_mask(
    categories: np.ndarray, attributes: np.ndarray, anchor: int, items: np.ndarray
) -> np.ndarray:
    """Which of ``items`` are like ``anchor``: the same category and at least one shared
    attribute value (``attributes`` is items x attributes codes); never the anchor itself."""
    same = categories[items] == categories[anchor]
    if attributes.shape[1]:
        same &= (attributes[items] == attributes[anchor]).any(axis=1)
    return same & (items != anchor)


def honours(
    constraint: Constraint,
    catalog: Catalog,
    slate: Sequence[int] | np.ndarray,
    previous_slate: Sequence[int] | np.ndarray,
) -> bool:
    """Whether ``slate`` honours the (resolved) command ``constraint``: a non-empty slate with no
    excluded item, only "only" items, every price under the ceiling, at least half its items like
    the "more like" item, and for "something different" no item of the previous slate and a
    category the previous slate did not have (when one is left)."""
    if not constraint.understood:
        return False
    items = np.array([int(i) for i in slate if int(i) >= 0], dtype=np.int64)
    if items.size == 0:
        return False
    attributes = {a: catalog.attributes[a][items] for a in catalog.attributes}
    ok = allowed_mask(
        catalog.categories[items],
        attributes,
        catalog.price[items],
        constraint.exclude_categories,
        constraint.exclude_values,
        constraint.only_categories,
        constraint.only_values,
        constraint.max_price,
    )
    if not ok.all():
        return False
    if constraint.similar_to is not None and constraint.similar_to >= 0:
        matrix = attribute_matrix(catalog)
        similar = similar_mask(catalog.categories, matrix, constraint.similar_to, items)
        if similar.sum() < math.ceil(items.size / 2):
            return False
    if constraint.different:
        before = np.array([int(i) for i in previous_slate if int(i) >= 0], dtype=np.int64)
        if np.isin(items, before).any():
            return False
        seen = set(catalog.categories[before].tolist())
        if len(seen) < len(catalog.category_names) and seen >= set(
            catalog.categories[items].tolist()
        ):
            return False
    return True


def attribute_matrix(catalog: Catalog) -> np.ndarray:
    """The catalog's attribute codes as an items x attributes int64 matrix."""
    columns = [np.asarray(catalog.attributes[a], dtype=np.int64) for a in catalog.attributes]
    if not columns:
        return np.zeros((len(catalog), 0), dtype=np.int64)
    return np.stack(columns, axis=1)


def describe(constraint: Constraint | ActiveConstraints, catalog: Catalog) -> str:
    """Constraints in words, for text views: "no horror; only paperback; under $20.00"."""
    parts = []
    names = catalog.category_names
    values = catalog.attribute_values
    if constraint.exclude_categories or constraint.exclude_values:
        terms = [names[c] for c in sorted(constraint.exclude_categories)]
        terms += [values[a][v] for a, v in sorted(constraint.exclude_values)]
        parts.append("no " + ", ".join(terms))
    if constraint.only_categories or constraint.only_values:
        terms = [names[c] for c in sorted(constraint.only_categories)]
        terms += [values[a][v] for a, v in sorted(constraint.only_values)]
        parts.append("only " + ", ".join(terms))
    if constraint.max_price:
        parts.append(f"under ${constraint.max_price:.2f}")
    if isinstance(constraint, Constraint) and constraint.cheaper and not constraint.max_price:
        parts.append("cheaper")
    similar = constraint.similar_to
    if similar is not None and similar >= 0:
        parts.append(f"more like [{similar}] {catalog.titles[similar]}")
    elif similar == THIS and isinstance(constraint, Constraint):
        parts.append("more like this")
    if constraint.different:
        parts.append("something different")
    return "; ".join(parts) if parts else "none"
