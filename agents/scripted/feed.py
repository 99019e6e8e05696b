"""Scripted players of `mercato/RecFeed-v0`: four recommenders, a user simulator, an LLM parser.

Recommenders (they read the catalog columns in their observation):

* ``feed/clickbait``: the most engaging items, leaning toward clicked categories and away from
  items shown and ignored, blind to the standing requests: it chases expected clicks;
* ``feed/satisfaction``: the best items by quality among those that fit the user's requests,
  toward clicked categories, away from items shown and ignored; it honours "more like" and
  "something different";
* ``feed/popular``: the most popular items; ``feed/random``: random distinct items.

None shows an item the user clicked within its history window.

``feed/user`` is a RecSim-style user: a multinomial-logit choice over the slate with a no-click
option, from engagement, quality, interests and price against budget. With probability
``command_rate`` it complains about what it dislikes on the slate (a category or attribute value,
or prices over budget), with ``different_rate`` asks for something different when the slate did
not change, and with ``similar_rate`` asks for more like an item it loved. Churn is the env's.

`LLMCommandParser` turns commands into constraints with a language model (any object with
``generate(requests)``, e.g. from `sim.llm.make_model`) and falls back to the rules.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from envs.core.protocol import protocol_of
from envs.recommendation.catalog import Catalog
from envs.recommendation.commands import (
    CommandParser,
    Constraint,
    RuleCommandParser,
    constraint_from_fields,
    similar_mask,
)
from envs.recommendation.feed_protocol import FeedProtocol

ENV_ID = "mercato/RecFeed-v0"


def clicked_items(observation: Any) -> np.ndarray:
    """The items the user clicked within the recommender's history window."""
    slates = np.asarray(observation["history_slates"])
    responses = np.asarray(observation["history_responses"])
    rows = np.flatnonzero((responses >= 1) & (responses <= slates.shape[1]))
    return slates[rows, responses[rows] - 1]


def ignored_counts(observation: Any) -> np.ndarray:
    """How often each item was shown in the history window without being clicked."""
    counts = np.zeros(len(observation["item_quality"]), dtype=np.float64)
    slates = np.asarray(observation["history_slates"])
    shown = slates[slates >= 0]
    np.add.at(counts, shown, 1.0)
    clicked = clicked_items(observation)
    np.add.at(counts, clicked, -1.0)
    return counts


def category_affinity(observation: Any) -> np.ndarray:
    """Per item: the share of recent clicks in its category (0 with no clicks)."""
    categories = np.asarray(observation["item_category"])
    clicked = clicked_items(observation)
    if clicked.size == 0:
        return np.zeros(len(categories))
    counts = np.bincount(categories[clicked], minlength=int(categories.max()) + 1)
    return counts[categories] / clicked.size


def top_slate(score: np.ndarray, eligible: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` best eligible items by score (ties to the lower id), -1 padded."""
    order = np.argsort(-np.where(eligible, score, -np.inf), kind="stable")
    chosen = [int(i) for i in order[:size] if eligible[i]]
    return np.array(chosen + [-1] * (size - len(chosen)), dtype=np.int64)


class FeedRecommender(BatchPolicy):
    """A scoring recommender: ``kind`` is clickbait, satisfaction, popular or random."""

    reusable = False

    def __init__(
        self, protocol: FeedProtocol, kind: str, seed: int = 0, alpha: float = 0.5
    ) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.protocol = protocol
        self.kind = kind
        self.name = f"feed/{kind}"
        self.rng = np.random.default_rng(seed)
        self.alpha = alpha

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        size = self.protocol.slate_size
        n = len(observation["item_quality"])
        eligible = np.ones(n, dtype=bool)
        eligible[clicked_items(observation)] = False
        if not eligible.any():
            eligible[:] = True
        if self.kind == "random":
            items = self.rng.choice(n, size=min(size, n), replace=False)
            return self.protocol.recommender_action(items)
        if self.kind == "popular":
            score = np.asarray(observation["item_popularity"], dtype=np.float64)
        elif self.kind == "blend":  # alpha x engagement + (1 - alpha) x quality, within requests
            score = (
                self.alpha * np.asarray(observation["item_engagement"], dtype=np.float64)
                + (1.0 - self.alpha) * np.asarray(observation["item_quality"], dtype=np.float64)
                + 0.4 * category_affinity(observation)
                - 0.1 * ignored_counts(observation)
            )
            eligible = eligible & np.asarray(observation["item_allowed"], dtype=bool)
        elif self.kind == "clickbait":
            score = (
                observation["item_engagement"]
                + 0.5 * category_affinity(observation)
                - 0.1 * ignored_counts(observation)
            )
        else:
            return self.protocol.recommender_action(self._satisfying(observation, eligible))
        return self.protocol.recommender_action(top_slate(score, eligible, size))

    def _satisfying(self, observation: Any, eligible: np.ndarray) -> np.ndarray:
        size = self.protocol.slate_size
        score = (
            np.asarray(observation["item_quality"], dtype=np.float64)
            + 0.3 * category_affinity(observation)
            - 0.1 * ignored_counts(observation)
        )
        eligible = eligible & np.asarray(observation["item_allowed"], dtype=bool)
        previous = np.asarray(observation["history_slates"][0])
        previous = previous[previous >= 0]
        if observation["different"]:
            eligible[previous] = False
        anchor = int(observation["similar_to"][0])
        if anchor >= 0:
            items = np.arange(len(score))
            attributes = np.asarray(observation["item_attributes"])
            like = similar_mask(observation["item_category"], attributes, anchor, items)
            first = top_slate(score, eligible & like, size)
            rest = top_slate(score, eligible & ~np.isin(items, first), size)
            slate = np.concatenate([first[first >= 0], rest[rest >= 0]])[:size]
            return np.concatenate([slate, np.full(size - len(slate), -1, dtype=np.int64)])
        slate = top_slate(score, eligible, size)
        if observation["different"] and previous.size:
            slate = self._new_category(observation, slate, previous, score, eligible)
        return slate

    @staticmethod
    def _new_category(
        observation: Any,
        slate: np.ndarray,
        previous: np.ndarray,
        score: np.ndarray,
        eligible: np.ndarray,
    ) -> np.ndarray:
        """The slate with its last item swapped for the best one of a category the previous
        slate lacked, when it has none yet."""
        categories = np.asarray(observation["item_category"])
        seen = np.isin(categories, categories[previous])
        shown = slate[slate >= 0]
        if shown.size == 0 or not seen[shown].all():
            return slate
        fresh = top_slate(score, eligible & ~seen, 1)
        if fresh[0] >= 0:
            slate = slate.copy()
            slate[len(shown) - 1] = fresh[0]
        return slate


class FeedUser(BatchPolicy):
    """A multinomial-logit user who complains about what it dislikes (RecSim-style choice)."""

    name = "feed/user"

    def __init__(
        self,
        protocol: FeedProtocol,
        seed: int = 0,
        *,
        engagement_weight: float = 6.0,
        quality_weight: float = 0.5,
        interest_weight: float = 1.5,
        price_weight: float = 1.5,
        no_click: float = 5.0,
        command_rate: float = 0.3,
        different_rate: float = 0.3,
        similar_rate: float = 0.15,
        dislike: float = -0.3,
    ) -> None:
        self.protocol = protocol
        self.rng = np.random.default_rng(seed)
        self.weights = (engagement_weight, quality_weight, interest_weight, price_weight)
        self.no_click = no_click
        self.command_rate = command_rate
        self.different_rate = different_rate
        self.similar_rate = similar_rate
        self.dislike = dislike
        counts = [len(v) for v in protocol.attribute_values.values()]
        self.offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._previous: np.ndarray | None = None
        self._loved: int = -1

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        if int(observation["step"]) == 0:
            self._previous, self._loved = None, -1
        slate = np.asarray(observation["slate"])
        filled = slate >= 0
        command = self._command(observation, slate, filled) if filled.any() else None
        self._previous = slate.copy()
        if command:
            return self.protocol.user_action(self.protocol.slate_size + 1, command)
        if not filled.any():
            return self.protocol.user_action(0)
        fit = self.fit(observation)
        utility = self.utility(observation, fit)
        logits = np.concatenate([[self.no_click], np.where(filled, utility, -np.inf)])
        p = np.exp(logits - logits.max())
        choice = int(self.rng.choice(len(p), p=p / p.sum()))
        if choice:
            loved = fit[choice - 1] > 0 and observation["slate_quality"][choice - 1] >= 0.7
            self._loved = int(slate[choice - 1]) if loved else -1
        return self.protocol.user_action(choice)

    def fit(self, observation: Any) -> np.ndarray:
        """How well each slot's item fits the user's interests (-1..1; 0 for empty slots)."""
        categories = np.asarray(observation["slate_category"])
        codes = np.asarray(observation["slate_attributes"])
        filled = categories >= 0
        interest = np.where(filled, observation["interests"][np.maximum(categories, 0)], 0.0)
        if codes.shape[1]:
            values = observation["value_interests"][np.maximum(codes, 0) + self.offsets]
            interest = interest + np.where(filled, values.mean(axis=1), 0.0)
        return np.clip(interest, -1.0, 1.0)

    def utility(self, observation: Any, fit: np.ndarray) -> np.ndarray:
        """Each slot's click utility: engagement, quality and fit up, price over budget down."""
        engagement, quality, interest, price = self.weights
        budget = max(float(observation["budget"][0]), 1e-9)
        over = np.maximum(np.asarray(observation["slate_price"]) / budget - 1.0, 0.0)
        return (
            engagement * observation["slate_engagement"]
            + quality * observation["slate_quality"]
            + interest * fit
            - price * over
        )

    def _command(self, observation: Any, slate: np.ndarray, filled: np.ndarray) -> str | None:
        names = self.protocol.category_names
        categories = np.asarray(observation["slate_category"])[filled]
        interests = np.asarray(observation["interests"])
        disliked = [int(c) for c in categories if interests[c] < self.dislike]
        draw = self.rng.random()
        if disliked and draw < self.command_rate:
            worst = min(disliked, key=lambda c: (interests[c], c))
            return f"no more {names[worst]}"
        value = self._disliked_value(observation, filled)
        if value and draw < self.command_rate:
            return f"no more {value}"
        budget = float(observation["budget"][0])
        prices = np.asarray(observation["slate_price"])[filled]
        if (prices > budget).mean() >= 0.5 and draw < self.command_rate:
            return f"under ${math.floor(budget)}" if draw < self.command_rate / 2 else "cheaper"
        repeated = self._previous is not None and np.array_equal(self._previous, slate)
        if repeated and draw < self.different_rate:
            return "show me something different"
        last = int(observation["last_click"][0])
        if self._loved >= 0 and last == self._loved and draw < self.similar_rate:
            self._loved = -1
            return "more like this"
        return None

    def _disliked_value(self, observation: Any, filled: np.ndarray) -> str | None:
        codes = np.asarray(observation["slate_attributes"])[filled]
        if not codes.size:
            return None
        flat = (codes + self.offsets).ravel()
        interest = np.asarray(observation["value_interests"])[flat]
        worst = int(np.argmin(interest))
        if interest[worst] >= 2 * self.dislike:
            return None
        attribute = list(self.protocol.attribute_values)[worst % len(self.offsets)]
        return self.protocol.attribute_values[attribute][int(codes.ravel()[worst])]


# The LLM command parser ---------------------------------------------------------------------------

PARSER_PROMPT = """You turn a user's request to a {domain} recommendation feed into fields.
Categories: {categories}
Attribute values: {values}
Answer exactly with these lines (use none where a field does not apply):
EXCLUDE: <categories or values the user no longer wants>
ONLY: <categories or values the user wants exclusively>
MAX_PRICE: <a number in dollars>
CHEAPER: <yes or no>
MORE_LIKE: <this, or the title of an item>
DIFFERENT: <yes or no>"""
PARSER_KEYS = ("EXCLUDE", "ONLY", "MAX_PRICE", "CHEAPER", "MORE_LIKE", "DIFFERENT")


class LLMCommandParser:
    """A `CommandParser` backed by a language model; the rules parse what the model gets wrong.

    Pass it to the env as ``command_parser``. ``model`` is anything with ``generate(requests)``
    returning objects with ``.text`` (`sim.llm` models)."""

    name = "llm"

    def __init__(
        self,
        model: Any,
        *,
        max_tokens: int = 64,
        fallback: CommandParser | None = None,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.fallback = fallback or RuleCommandParser()
        self.seed = seed

    def request(self, text: str, catalog: Catalog) -> dict[str, Any]:
        """The generate request for ``text`` (plain dict, as `sim.llm` accepts)."""
        values = sorted({v for vs in catalog.attribute_values.values() for v in vs})
        system = PARSER_PROMPT.format(
            domain=catalog.domain,
            categories=", ".join(catalog.category_names),
            values=", ".join(values),
        )
        return {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": text},
            ],
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
            "seed": self.seed,
        }

    def parse(self, text: str, catalog: Catalog) -> Constraint:
        return self.parse_batch([text], catalog)[0]

    def parse_batch(self, texts: Sequence[str], catalog: Catalog) -> list[Constraint]:
        """Several commands in one model call."""
        replies = self.model.generate([self.request(text, catalog) for text in texts])
        parsed = []
        for text, reply in zip(texts, replies, strict=True):
            fields = {k: v for k, v in _keyed(reply.text).items() if k in PARSER_KEYS}
            constraint = constraint_from_fields(fields, catalog, text)
            if not constraint.understood:
                constraint = self.fallback.parse(text, catalog)
            parsed.append(constraint)
        return parsed


def _keyed(text: str) -> dict[str, str]:
    """KEY: value lines (the parser's answer format)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().upper().replace(" ", "_"), value.strip())
    return fields


# Registration -------------------------------------------------------------------------------------


def _feed_protocol(env: Any) -> FeedProtocol:
    protocol = protocol_of(env)
    if not isinstance(protocol, FeedProtocol):
        raise ValueError(f"feed policies play {ENV_ID}, not {env}")
    return protocol


def _recommender(kind: str) -> Any:
    def factory(env: Any, *, seed: int) -> FeedRecommender:
        return FeedRecommender(_feed_protocol(env), kind, seed)

    return factory


def _user(env: Any, *, seed: int, **options: Any) -> FeedUser:
    return FeedUser(_feed_protocol(env), seed, **options)


# The factory takes FeedUser's keyword options (the registry reads them from this signature).
_user.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter("env", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY),
        *(
            p
            for p in inspect.signature(FeedUser.__init__).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ),
    ]
)


RECOMMENDERS = {
    "clickbait": "the most engaging items, standing requests ignored (maximises clicks)",
    "satisfaction": "the best items by quality that fit the requests; honours 'more like' etc.",
    "popular": "the most popular items",
    "random": "random distinct items (seeded)",
}
_FACTORIES = {kind: _recommender(kind) for kind in RECOMMENDERS}
for _kind, _summary in RECOMMENDERS.items():
    register_policy(f"feed/{_kind}", _FACTORIES[_kind], envs=(ENV_ID,), summary=_summary)


def _blend(env: Any, *, seed: int, alpha: float = 0.5) -> FeedRecommender:
    return FeedRecommender(_feed_protocol(env), "blend", seed, alpha)


register_policy(
    "feed/blend",
    _blend,
    envs=(ENV_ID,),
    summary="alpha x engagement + (1 - alpha) x quality within the user's requests (alpha)",
)
register_policy(
    FeedUser.name,
    _user,
    envs=(ENV_ID,),
    summary="multinomial-logit clicks (engagement, quality, interests, price); seeded complaints",
)
