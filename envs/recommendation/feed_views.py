"""Helpers for the feed's views: the recommender's candidate shortlist and the user's tastes and how
a slate fits them, in words (the views themselves are `envs.recommendation.protocol_views`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def candidates(
    allowed: np.ndarray, popular: np.ndarray, similar: np.ndarray | None, count: int
) -> list[int]:
    """Up to ``count`` items a recommender might show: among the ``allowed`` ones (those that fit
    the standing requests), the ones like the "more like" item first (``similar``: a mask, or
    None), each group in ``popular`` order (item ids, most popular first)."""
    if count <= 0:
        return []
    order = popular[allowed[popular].astype(bool)]
    if similar is not None:
        order = np.concatenate([order[similar[order]], order[~similar[order]]])
    return [int(i) for i in order[:count]]


def taste_lines(
    category_names: Sequence[str],
    attribute_values: Mapping[str, Sequence[str]],
    interests: np.ndarray,
    value_interests: np.ndarray,
) -> list[str]:
    """The user's interests in words, each -1 (hate) .. +1 (love), best first: per category,
    then per attribute's values (``value_interests`` flat in ``attribute_values`` order)."""
    lines = ["Your tastes (-1 hate .. +1 love):", "  " + _ranked(category_names, interests)]
    start = 0
    for attribute, values in attribute_values.items():
        scores = value_interests[start : start + len(values)]
        lines.append(f"  {attribute}: {_ranked(values, scores)}")
        start += len(values)
    return lines


def _ranked(names: Sequence[str], scores: np.ndarray) -> str:
    """``name +0.4`` pairs, highest score first."""
    order = sorted(range(len(names)), key=lambda i: -float(scores[i]))
    return ", ".join(f"{names[i]} {signed(scores[i])}" for i in order)


def signed(score: float) -> str:
    """A -1..1 score to one decimal with its sign, "+0.0" for scores that round to zero."""
    return f"{round(float(score), 1) + 0.0:+.1f}"


def slate_fit(
    categories: np.ndarray,
    attributes: np.ndarray,
    interests: np.ndarray,
    value_interests: np.ndarray,
    counts: Sequence[int],
) -> np.ndarray:
    """How well each slot's item fits the user's tastes, -1..1, as the user's mind counts it
    (`LatentUser.fit`: its category's interest plus the mean interest in its attribute values);
    ``categories`` and ``attributes`` are the slate's codes (-1: an empty slot, fit 0) and
    ``counts`` how many values each attribute has."""
    filled = np.asarray(categories) >= 0
    fit = np.where(filled, interests[np.maximum(categories, 0)], 0.0)
    if len(counts):
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        values = value_interests[np.maximum(attributes, 0) + offsets]
        fit = fit + np.where(filled, values.mean(axis=1), 0.0)
    return np.clip(fit, -1.0, 1.0)
