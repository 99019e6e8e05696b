"""The dialogue's observations by role: the recommender's search state and the user's need and
recommended items as structured fields, and the chat and search hits as observations show them
(a part of `envs.recommendation.dialogue.raw_env`, whose episode state they read)."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.core.turns import read_only
from envs.recommendation.need import feature_of
from envs.recommendation.protocol_views import SPEAKERS

VIEW_CHARS = 40_000
"""The longest text field (a chat line, a title, the text view)."""
SHOWN_TURNS = 8
"""The chat turns an observation shows (each of both speakers)."""


class DialogueObserving:
    """The observation builders of the dialogue env (they read its episode state)."""

    def _observe_recommender(self) -> dict[str, Any]:
        """The recommender's fields: its search state, what the user said, the chat."""
        rejected = np.full(self.params.max_turns * self.params.recommend_size, -1, np.int64)
        tail = self.rejected[-len(rejected) :]
        rejected[: len(tail)] = tail
        act, feature, value = self.last_user
        return {
            "turn": self.turn,
            "searches_left": self.searches_left,
            "results": self.results.copy(),
            "known": self.known.copy(),
            "matches": np.array([len(self._matching())], dtype=np.int64),
            "rejected": rejected,
            "last_act": act,
            "last_feature": feature,
            "last_value": value,
            **self._results_seen,
            **self._chat_seen,
        }

    def _observe_user(self) -> dict[str, Any]:
        """The user's fields: its need and persona, what was recommended, the chat."""
        need = self.need
        codes = np.array([self._code(name, value) for name, value in self._need_in_order()])
        agenda = np.array([self.features.index(name) for name, _ in need.features], np.int64)
        recommended_features = np.full(
            (self.params.recommend_size, len(self.features)), -1, np.int64
        )
        for row, item in enumerate(self.recommended):
            if item >= 0:
                recommended_features[row] = self._codes_of(int(item))
        return {
            "turn": self.turn,
            "target": np.array([need.target], dtype=np.int64),
            "need": codes.astype(np.int64),
            "agenda": agenda,
            "patience": np.array([need.persona.patience], dtype=np.int64),
            "pickiness": np.array([need.persona.pickiness], dtype=np.float64),
            "style": ("terse", "chatty", "formal").index(need.persona.style),
            "last_act": self.last_rec_act,
            "asked": self.asked,
            "recommended": self.recommended.copy(),
            "recommended_features": recommended_features,
            **self._chat_seen,
            "target_title": self.title[:VIEW_CHARS],
        }

    def _need_in_order(self) -> list[tuple[str, str]]:
        wanted = dict(self.need.features)
        return [(name, wanted[name]) for name in self.features]

    def _code(self, name: str, value: str) -> int:
        return self.values[name].index(value)

    def _codes_of(self, item: int) -> np.ndarray:
        return np.array(
            [self._code(name, feature_of(self.catalog, item, name)) for name in self.features],
            dtype=np.int64,
        )

    def _show_chat(self) -> None:
        """The latest turns of the chat as observations show them: rebuilt when a line is added
        and shared, never changed, until the next."""
        shown = self.chat[-2 * SHOWN_TURNS :]
        free = 2 * SHOWN_TURNS - len(shown)
        speakers = [SPEAKERS.index(who) for who, _ in shown] + [-1] * free
        self._chat_seen = {
            "chat": tuple(text[:VIEW_CHARS] for _, text in shown) + ("",) * free,
            "chat_from": read_only(speakers, np.int8),
        }

    def _show_results(self) -> None:
        """The last search hits' titles, feature codes and prices as observations show them."""
        size, f = self.params.search_size, len(self.features)
        titles, codes = [""] * size, np.full((size, f), -1, dtype=np.int64)
        prices = np.zeros(size, dtype=np.float64)
        for slot, item in enumerate(self.results.tolist()):
            if item >= 0:
                titles[slot] = self.catalog.titles[item][:VIEW_CHARS]
                codes[slot] = self._codes_of(item)
                prices[slot] = self.catalog.price[item]
        codes.flags.writeable = prices.flags.writeable = False
        self._results_seen = {
            "result_titles": tuple(titles),
            "result_features": codes,
            "result_prices": prices,
        }
