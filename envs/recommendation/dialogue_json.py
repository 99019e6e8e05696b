"""The dialogue's structured (JSON) replies: each role's schema, an action as JSON and a JSON
reply parsed (a part of `envs.recommendation.dialogue_protocol.DialogueProtocol`, whose action
builders and vocabulary they use)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from envs.core.names import role_of
from envs.core.protocol import ActionParseError
from envs.core.structured import array, choice, const, free_text, get_field, integer, obj, one_of
from envs.recommendation.dialogue_acts import (
    FEATURE_ACTS,
    MESSAGE_CHARS,
    QUERY_CHARS,
    REC_ACTS,
    SCALES,
    USER_ACTS,
)


def _int_choice(values: Sequence[int]) -> dict[str, Any]:
    """One of the integers ``values`` (item ids)."""
    return {"type": "integer", "enum": list(dict.fromkeys(int(v) for v in values))}


def _item(value: Any, allowed: Sequence[int], field: str, what: str) -> int:
    """A JSON item id that must be one of ``allowed``, else an error naming the field."""
    whole = isinstance(value, int | float) and not isinstance(value, bool)
    if not whole or not math.isfinite(value) or value != int(value) or int(value) not in allowed:
        raise ActionParseError(f"field {field!r}: {value!r} is not one of {what} {list(allowed)}")
    return int(value)


class StructuredReplies:
    """The JSON side of `DialogueProtocol`."""

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any]:
        if role_of(agent) == "recommender":
            variants = []
            if observation["searches_left"]:
                variants.append(obj({"act": const("search"), "query": free_text(QUERY_CHARS)}))
            variants.append(obj({"act": const("ask"), "feature": choice(self.features)}))
            hits = self._hits(observation)
            if hits:
                items = array(_int_choice(hits), 1, min(self.recommend_size, len(hits)))
                variants.append(
                    obj(
                        {
                            "act": const("recommend"),
                            "items": items,
                            "message": free_text(MESSAGE_CHARS),
                        }
                    )
                )
            variants.append(obj({"act": const("respond"), "message": free_text(MESSAGE_CHARS)}))
            return one_of(variants)
        said = {
            "utterance": free_text(MESSAGE_CHARS),
            "ratings": obj({scale: integer(0, 5) for scale in SCALES}),
            "reason": free_text(QUERY_CHARS),
        }
        about = one_of(
            [
                obj({"feature": const(name), "value": choice(self.values[name])})
                for name in self.features
            ]
        )
        variants = [
            obj({"act": choice(FEATURE_ACTS), "about": about, **said}),
            obj({"act": choice(["inquire", "quit"]), **said}),
        ]
        recommended = self._recommended(observation)
        if recommended:
            variants.append(obj({"act": const("accept"), "item": _int_choice(recommended), **said}))
        return one_of(variants)

    @staticmethod
    def _hits(observation: Any) -> list[int]:
        return list(dict.fromkeys(int(i) for i in observation["results"] if i >= 0))

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        if role_of(agent) == "recommender":
            act = REC_ACTS[int(action["act"])]
            if act == "search":
                return {"act": act, "query": str(action["query"])}
            if act == "ask":
                return {"act": act, "feature": self.features[int(action["feature"])]}
            message = str(action["message"])
            if act == "recommend":
                items = [int(i) for i in np.ravel(action["items"]) if i >= 0]
                return {"act": act, "items": items, "message": message}
            return {"act": act, "message": message}
        act = USER_ACTS[int(action["act"])]
        reply: dict[str, Any] = {"act": act}
        if act in FEATURE_ACTS:
            name = self.features[int(action["feature"])]
            reply["about"] = {"feature": name, "value": self.values[name][int(action["value"])]}
        elif act == "accept":
            reply["item"] = int(np.ravel(action["item"])[0])
        ratings = [int(r) for r in np.ravel(action["ratings"])]
        return {
            **reply,
            "utterance": str(action["utterance"]),
            "ratings": dict(zip(SCALES, ratings, strict=True)),
            "reason": str(action["reason"]),
        }

    def _recommender_json(self, data: dict[str, Any], observation: Any) -> dict[str, Any]:
        act = get_field(data, "act", str)
        if act == "search":
            if not observation["searches_left"]:
                raise ActionParseError("field 'act': no searches left this turn")
            return self.recommender_action("search", query=get_field(data, "query", str))
        if act == "ask":
            name = get_field(data, "feature", str)
            if name not in self.features:
                raise ActionParseError(
                    f"field 'feature': one of {list(self.features)}, got {name!r}"
                )
            return self.recommender_action("ask", feature=self.features.index(name))
        if act == "recommend":
            hits = self._hits(observation)
            if not hits:
                raise ActionParseError("field 'act': nothing to recommend yet; search first")
            chosen = get_field(data, "items", list)
            if not 1 <= len(chosen) <= self.recommend_size:
                raise ActionParseError(
                    f"field 'items': 1 to {self.recommend_size} ids, got {len(chosen)}"
                )
            items = [_item(i, hits, "items", "the last search hits") for i in chosen]
            message = get_field(data, "message", str)
            return self.recommender_action("recommend", items=list(dict.fromkeys(items)),
                                           message=message)  # fmt: skip
        if act == "respond":
            return self.recommender_action("respond", message=get_field(data, "message", str))
        raise ActionParseError(f"field 'act': one of {list(REC_ACTS)}, got {act!r}")

    def _user_json(self, data: dict[str, Any], observation: Any) -> dict[str, Any]:
        act = get_field(data, "act", str)
        if act not in USER_ACTS:
            raise ActionParseError(f"field 'act': one of {list(USER_ACTS)}, got {act!r}")
        feature = value = 0
        item = -1
        if act in FEATURE_ACTS:
            about = get_field(data, "about", dict)
            name = get_field(about, "feature", str)
            if name not in self.features:
                raise ActionParseError(
                    f"field 'about.feature': one of {list(self.features)}, got {name!r}"
                )
            feature = self.features.index(name)
            wanted = get_field(about, "value", str)
            allowed = [v.lower() for v in self.values[name]]
            if wanted.strip().lower() not in allowed:
                raise ActionParseError(
                    f"field 'about.value': for {name}, one of {list(self.values[name])}, "
                    f"got {wanted!r}"
                )
            value = allowed.index(wanted.strip().lower())
        elif act == "accept":
            recommended = self._recommended(observation)
            if not recommended:
                raise ActionParseError("field 'act': nothing has been recommended to accept")
            item = _item(get_field(data, "item", (int, float)), recommended, "item",
                         "the recommended items")  # fmt: skip
        ratings = get_field(data, "ratings", dict)
        scores = []
        for scale in SCALES:
            score = ratings.get(scale)
            whole = isinstance(score, int | float) and not isinstance(score, bool)
            if not whole or not math.isfinite(score) or score != int(score) or not 0 <= score <= 5:
                raise ActionParseError(
                    f"field 'ratings.{scale}': a whole number from 0 to 5, got {score!r}"
                )
            scores.append(int(score))
        return self.user_action(
            act, feature=feature, value=value, item=item,
            utterance=get_field(data, "utterance", str), ratings=scores,
            reason=get_field(data, "reason", str),
        )  # fmt: skip
