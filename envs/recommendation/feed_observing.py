"""The feed's observations by role: the standing requests, the recent slates, the recommender's
candidates and the user's slate, as structured fields (a part of
`envs.recommendation.feed.raw_env`, whose episode state they read)."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.core.turns import read_only
from envs.recommendation.commands import similar_mask
from envs.recommendation.feed_user import n_values
from envs.recommendation.feed_views import candidates

VIEW_CHARS = 20_000
"""The longest text field (a title, the text view)."""


class FeedObserving:
    """The observation builders of the feed env (they read its episode state)."""

    def _shared(self) -> dict[str, Any]:
        """The fields both roles observe (standing requests, one-slate clauses, recent slates),
        built once per state and shared, read-only, until the next move."""
        if self._seen is None:
            self._seen = {**self._constraint_fields(), **self._history_fields()}
        return self._seen

    def _title(self, item: int) -> str:
        return self.catalog.titles[item][:VIEW_CHARS] if item >= 0 else ""

    def _constraint_fields(self) -> dict[str, Any]:
        c = self.constraints
        offsets = self._offsets

        def flags(size: int, on: list[int]) -> np.ndarray:
            array = np.zeros(size, dtype=np.int8)
            array[on] = 1
            array.flags.writeable = False
            return array

        n_categories, n_flat = len(self.catalog.category_names), n_values(self.catalog)
        return {
            "excluded_categories": flags(n_categories, list(c.exclude_categories)),
            "excluded_values": flags(n_flat, [offsets[a] + v for a, v in c.exclude_values]),
            "price_ceiling": read_only([c.max_price], np.float64),
            "only_categories": flags(n_categories, list(c.only_categories)),
            "only_values": flags(n_flat, [offsets[a] + v for a, v in c.only_values]),
            "similar_to": read_only([c.similar_to], np.int64),
            "similar_title": self._title(c.similar_to),
            "different": int(c.different),
        }

    def _history_fields(self) -> dict[str, Any]:
        p = self.params
        slates = np.full((p.history, p.slate_size), -1, dtype=np.int64)
        responses = np.full(p.history, -1, dtype=np.int64)
        commands, titles = [""] * p.history, [""] * p.history
        for row, (slate, response, command) in enumerate(self.history):
            slates[row], responses[row], commands[row] = slate, response, command
            if 1 <= response <= p.slate_size:
                titles[row] = self._title(int(slate[response - 1]))
        slates.flags.writeable = responses.flags.writeable = False
        return {
            "history_slates": slates,
            "history_responses": responses,
            "history_commands": tuple(commands),
            "history_titles": tuple(titles),
        }

    def _shortlist(self) -> np.ndarray:
        """The items the text view lists (`text_candidates`): the allowed ones, those like a
        "more like" item first, by popularity; -1 padding."""
        similar = None
        if self.constraints.similar_to >= 0:
            items = np.arange(len(self.catalog))
            similar = similar_mask(
                self.catalog.categories, self._attributes, self.constraints.similar_to, items
            )
        count = self.params.text_candidates
        shortlist = np.full(count, -1, dtype=np.int64)
        chosen = candidates(self._allowed, self._popular, similar, count)
        shortlist[: len(chosen)] = chosen
        return shortlist

    def _observe_recommender(self) -> dict[str, Any]:
        shortlist = self._shortlist()
        return {
            "step": self.steps,
            **self._items,
            "item_allowed": self._allowed,
            "candidates": shortlist,
            "candidate_titles": tuple(self._title(int(i)) for i in shortlist),
            **self._shared(),
            "last_command": self.last_command,
        }

    def _observe_user(self) -> dict[str, Any]:
        slate = self.slate
        filled = slate >= 0
        items = np.where(filled, slate, 0)
        attributes = np.where(filled[:, None], self._attributes[items], -1)
        return {
            "step": self.steps,
            **self._tastes,
            "satisfaction": np.array([self.user.satisfaction], dtype=np.float64),
            "budget": np.array([self.user.budget], dtype=np.float64),
            "slate": slate.copy(),
            "slate_title": tuple(self._title(int(i)) for i in slate),
            "slate_category": np.where(filled, self._items["item_category"][items], -1),
            "slate_attributes": attributes.astype(np.int64),
            "slate_price": np.where(filled, self._items["item_price"][items], 0.0),
            "slate_quality": np.where(filled, self._items["item_quality"][items], 0.0),
            "slate_engagement": np.where(filled, self._items["item_engagement"][items], 0.0),
            "last_click": np.array([self.last_click], dtype=np.int64),
            "message": self.message,
            **self._shared(),
            "response_mask": self._response_mask(),
        }
