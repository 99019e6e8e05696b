"""How LLM and human players talk in `mercato/RecDialogue-v0`.

The recommender answers one command::

    SEARCH <query>                 look up the catalog among items fitting what the user said
                                   (an empty query lists them by popularity; does not end
                                   the turn)
    ASK <feature>                  e.g. ASK tone
    RECOMMEND <id>, <id> [: text]  e.g. RECOMMEND 12, 40: You might like these
    SAY <text>                     just talk

The user simulator answers keyed fields (the act and ratings stay structured)::

    ACT: reject  FEATURE: tone  VALUE: dark  SAY: Something darker, please.
    RATINGS: recommendation=2 strategy=3 expression=4  REASON: not what I asked for
    (ACT: accept ITEM: 12 to accept item 12)

Either may instead reply with one JSON object (`reply_schema` states its shape now)::

    recommender  {"act": "search", "query": "..."}          (while searches are left)
                 {"act": "ask", "feature": "tone"}
                 {"act": "recommend", "items": [12, 40], "message": "..."}  (from the last hits)
                 {"act": "respond", "message": "..."}
    user         {"act": "disclose" | "answer" | "reject",
                  "about": {"feature": "tone", "value": "dark"}, ...}
                 {"act": "inquire" | "quit", ...}
                 {"act": "accept", "item": 12, ...}            (one of the recommended items)
                 where ... is "utterance": "...", "ratings": {"recommendation": 2, "strategy":
                 3, "expression": 4}, "reason": "..."
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.core.protocol import ActionParseError, TextProtocol, ValidAction
from envs.core.structured import (
    array,
    choice,
    const,
    free_text,
    get_field,
    integer,
    json_object,
    obj,
    one_of,
)
from envs.core.text import keyed_fields

REC_ACTS = ("search", "ask", "recommend", "respond")
USER_ACTS = ("disclose", "inquire", "answer", "accept", "reject", "quit")
SCALES = ("recommendation", "strategy", "expression")
QUERY_CHARS, MESSAGE_CHARS = 200, 1000  # the text limits of the action spaces
_KEYS = ("ACT", "FEATURE", "VALUE", "ITEM", "SAY", "RATINGS", "REASON")
_KEY = re.compile(r"\b(" + "|".join(_KEYS) + r")\s*:", re.IGNORECASE)

RECOMMENDER_FORMAT = """Answer with one command:
SEARCH <query>
ASK <feature>
RECOMMEND <item id>, <item id> [: a short message]
SAY <message>"""

USER_FORMAT = """Answer with: ACT: <disclose|inquire|answer|accept|reject|quit> [FEATURE: <feature>
VALUE: <value>] [ITEM: <id> when you accept] SAY: <your words, never the title> RATINGS:
recommendation=<0-5> strategy=<0-5> expression=<0-5> REASON: <why>"""


def _fields(text: str) -> dict[str, str]:
    """Key -> value text (utterances keep their final full stop)."""
    return keyed_fields(text, _KEY, strip=" \n;,")


FEATURE_ACTS = ("disclose", "answer", "reject")


def _int_choice(values: Sequence[int]) -> dict[str, Any]:
    """One of the integers ``values`` (item ids)."""
    return {"type": "integer", "enum": list(dict.fromkeys(int(v) for v in values))}


def _item(value: Any, allowed: Sequence[int], field: str, what: str) -> int:
    """A JSON item id that must be one of ``allowed``, else an error naming the field."""
    whole = isinstance(value, int | float) and not isinstance(value, bool)
    if not whole or not math.isfinite(value) or value != int(value) or int(value) not in allowed:
        raise ActionParseError(f"field {field!r}: {value!r} is not one of {what} {list(allowed)}")
    return int(value)


class DialogueProtocol(TextProtocol):
    """Commands for the recommender, keyed fields for the user simulator."""

    name = "rec_dialogue"

    def __init__(
        self,
        features: Sequence[str],
        values: Mapping[str, Sequence[str]],
        recommend_size: int,
        n_items: int | None = None,
    ) -> None:
        self.features = tuple(features)
        self.values = {name: tuple(v) for name, v in values.items()}
        self.recommend_size = recommend_size
        self.n_items = n_items
        """The catalog size: item ids run 0..n_items-1 (None: not checked)."""

    def instructions(self, agent: str) -> str:
        return RECOMMENDER_FORMAT if agent.startswith("recommender") else USER_FORMAT

    def render(self, observation: Any, agent: str) -> str:
        return f"{observation['text']}\n{self.instructions(agent)}"

    # Recommender --------------------------------------------------------------------------------

    def recommender_action(self, act: str, **fields: Any) -> dict[str, Any]:
        items = np.full(self.recommend_size, -1, dtype=np.int64)
        chosen = list(fields.get("items", ()))[: self.recommend_size]
        items[: len(chosen)] = chosen
        return {
            "act": REC_ACTS.index(act),
            "query": fields.get("query", "")[-QUERY_CHARS:],
            "use_known": int(fields.get("use_known", 1)),
            "feature": fields.get("feature", 0),
            "items": items,
            "message": fields.get("message", "")[:MESSAGE_CHARS],
        }

    def _recommender(self, text: str, observation: Any) -> dict[str, Any]:
        line = text.strip().splitlines()[0].strip() if text.strip() else ""
        verb, _, rest = line.partition(" ")
        verb, rest = verb.upper().rstrip(":"), rest.strip()
        if verb == "SEARCH":
            if not observation["searches_left"]:
                raise ActionParseError("no searches left this turn; ASK, RECOMMEND or SAY")
            return self.recommender_action("search", query=rest)
        if verb == "ASK":
            name = rest.lower().replace(" ", "_").rstrip("?.")
            if name not in self.features:
                raise ActionParseError(f"ASK one of: {', '.join(self.features)}")
            return self.recommender_action("ask", feature=self.features.index(name))
        if verb == "RECOMMEND":
            ids_text, _, message = rest.partition(":")
            ids = [int(x) for x in re.findall(r"\d+", ids_text)]
            if not ids:
                raise ActionParseError("RECOMMEND needs item ids, e.g. RECOMMEND 12, 40")
            unknown = [i for i in ids if self.n_items is not None and i >= self.n_items]
            if unknown:
                raise ActionParseError(
                    f"no item {unknown[0]} in the catalog: ids run 0-{self.n_items - 1}"
                )
            return self.recommender_action("recommend", items=ids, message=message.strip())
        if verb == "SAY" and rest:
            return self.recommender_action("respond", message=rest)
        raise ActionParseError("start with SEARCH, ASK, RECOMMEND or SAY")

    # User ---------------------------------------------------------------------------------------

    def user_action(self, act: str, **fields: Any) -> dict[str, Any]:
        return {
            "act": USER_ACTS.index(act),
            "feature": fields.get("feature", 0),
            "value": fields.get("value", 0),
            "item": np.array([fields.get("item", -1)], dtype=np.int64),
            "utterance": fields.get("utterance", "")[:MESSAGE_CHARS],
            "ratings": np.array(fields.get("ratings", (3, 3, 3)), dtype=np.int64),
            "reason": fields.get("reason", "")[:QUERY_CHARS],
        }

    def _user(self, text: str) -> dict[str, Any]:
        fields = _fields(text)
        act = fields.get("ACT", "").split()[0].lower() if fields.get("ACT") else ""
        if act not in USER_ACTS:
            raise ActionParseError(f"ACT must be one of {', '.join(USER_ACTS)}")
        feature = value = 0
        if act in ("disclose", "answer", "reject"):
            name = fields.get("FEATURE", "").lower().replace(" ", "_")
            if name not in self.features:
                raise ActionParseError(f"FEATURE must be one of {', '.join(self.features)}")
            feature = self.features.index(name)
            wanted = fields.get("VALUE", "").lower()
            allowed = [v.lower() for v in self.values[name]]
            if wanted not in allowed:
                raise ActionParseError(f"VALUE for {name} must be one of {', '.join(allowed)}")
            value = allowed.index(wanted)
        item = -1
        if act == "accept":
            found = re.search(r"\d+", fields.get("ITEM", ""))
            if not found:
                raise ActionParseError("ACT: accept needs ITEM: <id>")
            item = int(found.group())
        ratings = dict(re.findall(r"(\w+)\s*=\s*(\d)", fields.get("RATINGS", "")))
        missing = [s for s in SCALES if s not in ratings]
        if missing:
            raise ActionParseError(f"RATINGS needs {missing[0]}=<0-5>")
        scores = [min(5, int(ratings[s])) for s in SCALES]
        return self.user_action(
            act, feature=feature, value=value, item=item, utterance=fields.get("SAY", ""),
            ratings=scores, reason=fields.get("REASON", ""),
        )  # fmt: skip

    # Protocol -----------------------------------------------------------------------------------

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        data = json_object(text)
        if data is not None:
            if agent.startswith("recommender"):
                return self._recommender_json(data, observation)
            return self._user_json(data, observation)
        if agent.startswith("recommender"):
            return self._recommender(text, observation)
        return self._user(text)

    # Structured replies -------------------------------------------------------------------------

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any]:
        if agent.startswith("recommender"):
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

    @staticmethod
    def _recommended(observation: Any) -> list[int]:
        return list(dict.fromkeys(int(i) for i in observation["recommended"] if i >= 0))

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        if agent.startswith("recommender"):
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

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        if agent.startswith("recommender"):
            labels = [f"ASK {name}" for name, code in zip(self.features, observation["known"],
                                                          strict=True) if code < 0]  # fmt: skip
            hits = [int(i) for i in observation["results"] if i >= 0][: self.recommend_size]
            if hits:
                labels.append("RECOMMEND " + ", ".join(map(str, hits)))
            labels = labels or ["SAY Could you tell me more about what you like?"]
        else:
            ratings = "RATINGS: recommendation=3 strategy=3 expression=3 REASON: ok"
            labels = [f"ACT: accept ITEM: {int(i)} SAY: I'll take it. {ratings}"
                      for i in observation["recommended"] if i >= 0]  # fmt: skip
            for index in observation["agenda"][:2]:
                name = self.features[int(index)]
                value = self.values[name][int(observation["need"][int(index)])]
                labels.append(f"ACT: disclose FEATURE: {name} VALUE: {value} SAY: I'd like "
                              f"{value}. {ratings}")  # fmt: skip
            labels.append(f"ACT: quit SAY: Never mind. {ratings}")
        return [ValidAction(label, self.parse(label, observation, agent)) for label in labels]
