"""Scripted recommenders of `mercato/RecDialogue-v0` (baselines from the CRS literature).

* ``dialogue/popular``: each turn, list the most popular items fitting what the user has said
  (the search tool with an empty query) and recommend the best ones not yet rejected;
* ``dialogue/elimination``: ask-then-recommend: ask about the unknown feature with the most
  values (the most informative under a uniform catalog) until few items fit, then recommend the
  most popular of those;
* ``dialogue/retrieval``: search with the user's own words so far (BM25, no filters) and
  recommend the top hits not yet rejected.

All act on the observation alone (plus the env's text protocol to build actions) and remember
within an episode only when they last searched.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from envs.core.protocol import protocol_of

ENV_ID = "mercato/RecDialogue-v0"
_USER_LINE = re.compile(r"^User: (.*)$", re.MULTILINE)


class DialogueRecommender(BatchPolicy):
    """Shared: search once per turn, then recommend the top hits not rejected."""

    name = "dialogue/popular"

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.searched_turn = -1

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        turn = int(observation["turn"])
        if turn == 0 and self.searched_turn > 0:
            self.searched_turn = -1  # a new episode
        asked = self.question(observation)
        if asked is not None:
            return self.protocol.recommender_action("ask", feature=asked)
        if self.searched_turn != turn and observation["searches_left"] > 0:
            self.searched_turn = turn
            query, use_known = self.query(observation)
            return self.protocol.recommender_action("search", query=query, use_known=use_known)
        rejected = {int(i) for i in observation["rejected"] if i >= 0}
        hits = [int(i) for i in observation["results"] if i >= 0 and int(i) not in rejected]
        if not hits:
            return self.protocol.recommender_action("respond", message="Tell me more?")
        return self.protocol.recommender_action(
            "recommend", items=hits[: self.protocol.recommend_size]
        )

    def question(self, observation: Any) -> int | None:
        """A feature to ask about now, or None to search and recommend."""
        return None

    def query(self, observation: Any) -> tuple[str, int]:
        """The search: (query text, filter by the stated features)."""
        return "", 1


class EliminationRecommender(DialogueRecommender):
    name = "dialogue/elimination"

    def question(self, observation: Any) -> int | None:
        if int(observation["matches"][0]) <= self.protocol.recommend_size:
            return None
        unknown = [i for i, code in enumerate(observation["known"]) if code < 0]
        if not unknown:
            return None
        sizes = [len(self.protocol.values[self.protocol.features[i]]) for i in unknown]
        return unknown[int(np.argmax(sizes))]


class RetrievalRecommender(DialogueRecommender):
    name = "dialogue/retrieval"

    def query(self, observation: Any) -> tuple[str, int]:
        said = " ".join(_USER_LINE.findall(observation["text"]))
        if not said.strip():
            features, values = self.protocol.features, self.protocol.values
            said = " ".join(
                values[features[i]][int(code)]
                for i, code in enumerate(observation["known"])
                if code >= 0
            )
        return said, 0


def _factory(cls: type[DialogueRecommender]) -> Any:
    def factory(env: Any, *, seed: int) -> DialogueRecommender:
        return cls(protocol_of(env))

    return factory


for _cls, _summary in (
    (DialogueRecommender, "recommends the most popular items fitting what the user said"),
    (EliminationRecommender, "asks the most informative unknown feature, then recommends"),
    (RetrievalRecommender, "searches with the user's own words (BM25) and recommends the hits"),
):
    register_policy(_cls.name, _factory(_cls), envs=(ENV_ID,), summary=_summary)
