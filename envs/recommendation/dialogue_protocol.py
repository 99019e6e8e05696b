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
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.core.protocol import ActionParseError, TextProtocol, ValidAction
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


class DialogueProtocol(TextProtocol):
    """Commands for the recommender, keyed fields for the user simulator."""

    name = "rec_dialogue"

    def __init__(
        self, features: Sequence[str], values: Mapping[str, Sequence[str]], recommend_size: int
    ) -> None:
        self.features = tuple(features)
        self.values = {name: tuple(v) for name, v in values.items()}
        self.recommend_size = recommend_size

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
        if agent.startswith("recommender"):
            return self._recommender(text, observation)
        return self._user(text)

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
