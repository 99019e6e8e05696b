"""Text views of the feed for language-model players: what the recommender and the user read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from envs.recommendation.catalog import Catalog
from envs.recommendation.commands import ActiveConstraints, describe


def item_line(catalog: Catalog, item: int) -> str:
    """An item as a player reads it: the catalog line plus its rating (quality) and buzz."""
    quality, buzz = float(catalog.quality[item]), float(catalog.engagement[item])
    return f"{catalog.describe(item)} rating {quality * 5:.1f}/5, buzz {buzz:.2f}"


def response_words(catalog: Catalog, slate: np.ndarray, response: int, command: str) -> str:
    """One response in words: "clicked [12] Title", "skipped", a command, "left"."""
    size = len(slate)
    if response < 0:
        return "-"
    if response == 0:
        return "skipped the slate"
    if response <= size:
        item = int(slate[response - 1])
        return f"clicked slot {response}: [{item}] {catalog.titles[item]}"
    if response == size + 1:
        return f'said "{command}"'
    return "left the feed"


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


def history_lines(catalog: Catalog, history: Sequence[tuple[np.ndarray, int, str]]) -> list[str]:
    """Recent slates (ids) and the user's response to each, newest first; none when empty."""
    if not history:
        return []
    lines = ["Recent slates (newest first):"]
    for slate, response, command in history:
        ids = " ".join(f"[{int(i)}]" for i in slate if int(i) >= 0) or "(empty)"
        lines.append(f"  {ids} -> {response_words(catalog, slate, response, command)}")
    return lines


def recommender_text(
    catalog: Catalog,
    step: int,
    max_steps: int,
    slate_size: int,
    constraints: ActiveConstraints,
    history: Sequence[tuple[np.ndarray, int, str]],
    shortlist: Sequence[int],
) -> str:
    """The recommender's view: standing requests, recent slates with responses, candidates."""
    lines = [
        f"Feed step {step + 1} of {max_steps}. Show the user up to {slate_size} items "
        f"from a {catalog.domain} catalog of {len(catalog)} items (ids 0-{len(catalog) - 1}).",
        f"The user's requests: {describe(constraints, catalog)}",
    ]
    lines += history_lines(catalog, history)
    if shortlist:
        lines.append("Candidates:")
        lines += [f"  {item_line(catalog, i)}" for i in shortlist]
    return "\n".join(lines)


def user_text(
    catalog: Catalog,
    step: int,
    slate: np.ndarray,
    message: str,
    constraints: ActiveConstraints,
    satisfaction: float,
    budget: float,
    history: Sequence[tuple[np.ndarray, int, str]] = (),
) -> str:
    """The user's view: its recent slates and responses (``history``, newest first), the slate
    by slot, the recommender's message, the user's own state."""
    lines = [*history_lines(catalog, history), f"Your feed, step {step + 1}:"]
    shown = [(slot + 1, int(i)) for slot, i in enumerate(slate) if int(i) >= 0]
    lines += [f"  {slot}. {item_line(catalog, item)}" for slot, item in shown] or ["  (empty)"]
    if message:
        lines.append(f"The recommender says: {message}")
    lines.append(f"Your requests so far: {describe(constraints, catalog)}")
    lines.append(f"You feel {satisfaction:.2f} satisfied (0-1); your budget is about ${budget:.2f}")
    return "\n".join(lines)


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
