"""``dialogue/agenda``: an agenda-based user simulator for `mercato/RecDialogue-v0`.

After the agenda-based simulators of UserSimCRS: the user's hidden need (its target's features,
in its own order of importance) is a stack of acts. Each turn it reacts to the recommender's
move: an ask is answered with the wanted value; a recommendation containing the target is
accepted; any other recommendation is rejected with a reason (the most important feature the
recommended items get wrong); small talk gets the next undisclosed feature, then an inquiry. It
quits when its patience (in turns) runs out. It rates every recommender turn on the three 0-5
scales, with a reason. Deterministic given its seed; it never says the target's title (its
utterances are built from feature values only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from envs.core.protocol import protocol_of
from envs.recommendation.need import STYLES, phrase

ENV_ID = "mercato/RecDialogue-v0"
SEARCH, ASK, RECOMMEND, RESPOND, NONE = range(5)


class AgendaUser(BatchPolicy):
    """The agenda-based simulated user (one per episode: it remembers what it disclosed)."""

    name = "dialogue/agenda"

    def __init__(self, protocol: Any, seed: int) -> None:
        self.protocol = protocol
        self.features = protocol.features
        self.values = protocol.values
        self.rng = np.random.default_rng(seed)
        self.disclosed: set[int] = set()

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        turn = int(observation["turn"])
        if turn == 0:
            self.disclosed = set()
        style = STYLES[int(observation["style"])]
        need = observation["need"]
        target = int(observation["target"][0])
        recommended = [int(i) for i in observation["recommended"] if i >= 0]
        last = int(observation["last_act"])
        pickiness = float(observation["pickiness"][0])
        if last == RECOMMEND and target in recommended:
            return self._say("accept", style, 0, 0, item=target,
                             ratings=(5, 4, 4), reason="found exactly what I wanted")  # fmt: skip
        if turn + 1 >= int(observation["patience"][0]):
            return self._say("quit", style, 0, 0, ratings=(1, 1, 3), reason="out of patience")
        if last == RECOMMEND:
            feature = self._wrong_feature(observation, recommended)
            close = self._closeness(observation, recommended)
            score = int(np.clip(round(1 + 3 * close - pickiness), 0, 4))
            self.disclosed.add(feature)
            reason = "not quite what I asked for"
            return self._say(
                "reject", style, feature, int(need[feature]), ratings=(score, 3, 3), reason=reason
            )
        if last == ASK:
            feature = int(observation["asked"])
            fresh = feature not in self.disclosed
            self.disclosed.add(feature)
            reason = "a useful question" if fresh else "I already said that"
            return self._say(
                "answer", style, feature, int(need[feature]),
                ratings=(3, 4 if fresh else 1, 3), reason=reason,
            )  # fmt: skip
        for feature in (int(f) for f in observation["agenda"]):
            if feature not in self.disclosed:
                self.disclosed.add(feature)
                return self._say("disclose", style, feature, int(need[feature]),
                                 ratings=(2, 2, 3), reason="no suggestion yet")  # fmt: skip
        return self._say(
            "inquire", style, 0, 0, ratings=(2, 2, 3), reason="waiting for a suggestion"
        )

    def _wrong_feature(self, observation: Any, recommended: list[int]) -> int:
        """The most important feature (agenda order) the first recommendation gets wrong."""
        need = observation["need"]
        first = observation["recommended_features"][0]
        for feature in (int(f) for f in observation["agenda"]):
            if first[feature] != need[feature]:
                return feature
        return int(observation["agenda"][0])

    @staticmethod
    def _closeness(observation: Any, recommended: list[int]) -> float:
        rows = observation["recommended_features"][: len(recommended)]
        return float((rows == observation["need"]).mean()) if len(rows) else 0.0

    def _say(
        self, act: str, style: str, feature: int, value: int, *, item: int = -1,
        ratings: tuple[int, int, int], reason: str,
    ) -> dict[str, Any]:  # fmt: skip
        name = self.features[feature]
        words = phrase(act, style, self.rng, name, self.values[name][value])
        expression = {"terse": 0, "chatty": 1, "formal": 0}[style]
        scores = (ratings[0], ratings[1], min(5, ratings[2] + expression))
        return self.protocol.user_action(
            act, feature=feature, value=value, item=item, utterance=words, ratings=scores,
            reason=reason,
        )  # fmt: skip


def _agenda(env: Any, *, seed: int) -> AgendaUser:
    return AgendaUser(protocol_of(env), seed)


register_policy(
    AgendaUser.name,
    _agenda,
    envs=(ENV_ID,),
    summary="agenda-based user: answers, discloses, rejects with a reason, accepts its target",
)
