"""How LLM and human players talk in `mercato/RecDialogue-v0`.

The recommender answers one command::

    SEARCH <query>                 look up the catalog among items fitting what the user said
                                   (an empty query lists them by popularity; does not end
                                   the turn)
    ASK <feature>                  e.g. ASK tone
    RECOMMEND <id>, <id> [: text]  e.g. RECOMMEND 12, 40: You might like these
    SAY <text>                     just talk

The user simulator answers keyed fields on one line (the act and ratings stay structured)::

    ACT: reject FEATURE: tone VALUE: dark SAY: Something darker, please.
    RATINGS: recommendation=2 strategy=3 expression=4 REASON: not what I asked for
    (ACT: accept ITEM: 12 to accept recommended item 12; RATINGS: 2 3 4 also reads, in order)

Both see the rules and format once, in `instructions`; `render` writes the view from the
structured observation alone (`envs.recommendation.protocol_views`; the env's ``text`` field is
the same view), with the observed facts a conversation does not show (the recommender: how many
items fit, what was turned down, the user's last act; the user: the turn, what was asked, the ids
it may accept, its pickiness). `describe` writes an action in this format, or as the JSON reply
below where the format cannot carry it exactly.

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

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.core.names import role_of
from envs.core.protocol import ActionParseError, TextProtocol, ValidAction
from envs.core.structured import (
    json_object,
)
from envs.core.text import keyed_fields
from envs.recommendation.dialogue_acts import (
    FEATURE_ACTS,
    MESSAGE_CHARS,
    QUERY_CHARS,
    REC_ACTS,
    SCALES,
    USER_ACTS,
)
from envs.recommendation.dialogue_json import StructuredReplies
from envs.recommendation.protocol_describe import describe_dialogue
from envs.recommendation.protocol_views import (
    Layout,
    dialogue_recommender_view,
    dialogue_user_view,
)

_KEYS = ("ACT", "FEATURE", "VALUE", "ITEM", "SAY", "RATINGS", "REASON")
_KEY = re.compile(r"\b(" + "|".join(_KEYS) + r")\s*:", re.IGNORECASE)

RECOMMENDER_FORMAT = """Answer with one command on one line:
SEARCH <query>  (look up the catalog among the items that fit what the user said; an empty query
lists them by popularity; it does not use up your turn)
ASK <feature>  (one of the features you can ask about)
RECOMMEND <item id>, <item id> [: a short message]  (up to {size} ids from the search results)
SAY <message>"""

USER_FORMAT = """Answer on one line:
ACT: <act> [FEATURE: <feature> VALUE: <value>] [ITEM: <id>] SAY: <your words> RATINGS: \
recommendation=<0-5> strategy=<0-5> expression=<0-5> REASON: <a few words>
Acts: disclose (tell one feature you want), answer (answer the feature you were asked about), \
reject (turn the recommended items down), accept (take a recommended item: ITEM: <its id>), \
inquire (ask for a suggestion), quit (give up).
With disclose, answer and reject give FEATURE and VALUE: one of the features you want and its \
value, written as in your list (the most important comes first).
RATINGS rate the recommender's last turn from 0 to 5:
- recommendation: how well the items it recommended fit what you want (0 if it recommended \
nothing)
- strategy: how well its move (asking, recommending, chatting) suited the moment
- expression: how clear, coherent and helpful its words were
REASON says briefly why you rated so."""

SAY_TOKENS, REASON_TOKENS = 48, 16
"""Room (tokens) reserved in a reply for a message, query or utterance, and for a reason."""
_REC_TOKENS, _USER_TOKENS = 24, 64
"""The rest of the longest recommender reply (besides its item ids) and user reply (besides its
feature and value), as JSON, the longer form (SmolLM2 tokens, measured, with a margin)."""
_ID_DIGITS = 6
"""Digits of an item id when the catalog size is not known (up to 100,000 items)."""
STOP_SEQUENCES = ("\n\n", "\nRecommender:", "\nUser:")
"""Both formats are one line; a model that goes on writes the next turn of the conversation."""


def _fields(text: str) -> dict[str, str]:
    """Key -> value text (utterances keep their final full stop)."""
    return keyed_fields(text, _KEY, strip=" \n;,")


def _word(text: str) -> str:
    """A named choice as written in a field, trimmed of quotes and end punctuation."""
    return text.strip().strip("\"'`*.!?").lower()


def _ratings(text: str) -> dict[str, int]:
    """The 0-5 ratings a RATINGS field gives, by name (``strategy=3``) or, with no names, as
    three numbers in scale order (``2 3 4``). Scores above 5 read as 5."""
    named = {
        scale: int(score)
        for name, score in re.findall(r"([a-z]+)\s*[=:]\s*(\d)", text.lower())
        for scale in SCALES
        if name.startswith(scale[:4])  # "recommendations=2" and "expr=3" read too
    }
    if not named:
        scores = re.findall(r"\d", text)
        named = dict(zip(SCALES, map(int, scores), strict=True)) if len(scores) == 3 else {}
    return {scale: min(5, score) for scale, score in named.items()}


class DialogueProtocol(StructuredReplies, TextProtocol):
    """Commands for the recommender, keyed fields for the user simulator."""

    name = "rec_dialogue"
    max_message_chars = MESSAGE_CHARS

    def __init__(
        self,
        features: Sequence[str],
        values: Mapping[str, Sequence[str]],
        recommend_size: int,
        n_items: int | None = None,
        domain: str = "books",
        max_turns: int = 10,
        catalog_size: int | None = None,
    ) -> None:
        self.features = tuple(features)
        self.values = {name: tuple(v) for name, v in values.items()}
        self.recommend_size = recommend_size
        self.n_items = n_items
        """The catalog size: item ids run 0..n_items-1 (None: not checked)."""
        self.max_turns = max_turns
        self.catalog_size = catalog_size if catalog_size is not None else n_items
        """How many items the recommender's view says the catalog has."""
        first, *attributes = self.features
        self.layout = Layout(domain, self.values[first], {a: self.values[a] for a in attributes})

    def instructions(self, agent: str) -> str:
        if role_of(agent) == "recommender":
            return RECOMMENDER_FORMAT.format(size=self.recommend_size)
        return USER_FORMAT

    def render(self, observation: Any, agent: str) -> str:
        """The role's view from the structured fields, never the ``text`` field (the format is
        stated once, in `instructions`)."""
        if role_of(agent) == "recommender":
            view = dialogue_recommender_view(
                observation, self.layout, self.features, self.max_turns, self.catalog_size
            )
            facts = self._recommender_facts(observation)
        else:
            view = dialogue_user_view(observation, self.layout, self.features)
            facts = self._user_facts(observation)
        return "\n".join([view, *facts]).strip()

    def _recommender_facts(self, observation: Any) -> list[str]:
        """How many items fit, what the user turned down and its last act."""
        facts = [f"Items that fit everything the user said: {int(observation['matches'][0])}."]
        rejected = [str(int(i)) for i in observation["rejected"] if i >= 0]
        if rejected:
            facts.append(f"Items the user turned down: {', '.join(rejected)}.")
        act = int(observation["last_act"])
        if act < len(USER_ACTS):
            said = ""
            name = self.features[int(observation["last_feature"])]
            value = int(observation["last_value"])
            if USER_ACTS[act] in FEATURE_ACTS and value < len(self.values[name]):
                said = f" ({name}: {self.values[name][value]})"
            facts.append(f"The user's last act: {USER_ACTS[act]}{said}.")
        return facts

    def _user_facts(self, observation: Any) -> list[str]:
        """The turn, the feature asked about, the ids the user may accept, its pickiness."""
        facts = [f"This is turn {int(observation['turn']) + 1}."]
        asked = int(observation["asked"])
        if asked < len(self.features):
            facts.append(f"The recommender asked about: {self.features[asked].replace('_', ' ')}.")
        recommended = self._recommended(observation)
        if recommended:
            facts.append(f"Recommended now (ITEM ids): {', '.join(map(str, recommended))}.")
        pickiness = float(observation["pickiness"][0])
        facts.append(
            f"How picky you are about near misses: {pickiness:.2f} (0 easy-going, 1 strict)."
        )
        return facts

    def reply_tokens(self, agent: str) -> int:
        """The longest reply (a JSON recommendation of the most ids, or a user reply with the
        longest feature and value) with room for its free text."""
        if role_of(agent) == "recommender":
            digits = len(str(self.n_items - 1)) if self.n_items else _ID_DIGITS
            return _REC_TOKENS + self.recommend_size * (digits + 2) + SAY_TOKENS
        longest = max(len(name) + len(v) for name in self.features for v in self.values[name])
        return _USER_TOKENS + longest // 2 + SAY_TOKENS + REASON_TOKENS

    def stop_sequences(self, agent: str) -> tuple[str, ...]:
        return STOP_SEQUENCES

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
        line = re.sub(r"^recommender\s*:\s*", "", line, flags=re.IGNORECASE)
        verb, _, rest = line.partition(" ")
        verb, rest = verb.upper().rstrip(":"), rest.strip()
        if verb == "SEARCH":
            if not observation["searches_left"]:
                raise ActionParseError("no searches left this turn; ASK, RECOMMEND or SAY")
            return self.recommender_action("search", query=rest)
        if verb == "ASK":
            feature = self._asked_feature(rest)
            if feature is None:
                raise ActionParseError(f"ASK one of: {', '.join(self.features)}")
            return self.recommender_action("ask", feature=feature)
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

    def _asked_feature(self, text: str) -> int | None:
        """The feature an ASK names: the whole text ("price band?"), else the one feature named
        in it ("ASK about the tone"); None when none or several are."""
        name = _word(text).replace(" ", "_")
        if name in self.features:
            return self.features.index(name)
        words = f" {re.sub(r'[^a-z0-9_-]+', ' ', text.lower().replace('_', ' '))} "
        named = [i for i, f in enumerate(self.features) if f" {f.replace('_', ' ')} " in words]
        return named[0] if len(named) == 1 else None

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

    def _user(self, text: str, observation: Any) -> dict[str, Any]:
        fields = _fields(text)
        act = _word(fields["ACT"].split()[0]) if fields.get("ACT", "").split() else ""
        if act not in USER_ACTS:
            raise ActionParseError(f"ACT must be one of {', '.join(USER_ACTS)}")
        feature = value = 0
        if act in FEATURE_ACTS:
            name = _word(fields.get("FEATURE", "")).replace(" ", "_")
            if name not in self.features:
                raise ActionParseError(f"FEATURE must be one of {', '.join(self.features)}")
            feature = self.features.index(name)
            wanted = _word(fields.get("VALUE", ""))
            allowed = [v.lower() for v in self.values[name]]
            if wanted not in allowed:
                raise ActionParseError(f"VALUE for {name} must be one of {', '.join(allowed)}")
            value = allowed.index(wanted)
        item = -1
        if act == "accept":
            item = self._accepted(fields.get("ITEM", ""), observation)
        ratings = _ratings(fields.get("RATINGS", ""))
        missing = [scale for scale in SCALES if scale not in ratings]
        if missing:
            raise ActionParseError(f"RATINGS needs {missing[0]}=<0-5>")
        return self.user_action(
            act, feature=feature, value=value, item=item, utterance=fields.get("SAY", ""),
            ratings=[ratings[s] for s in SCALES], reason=fields.get("REASON", ""),
        )  # fmt: skip

    def _accepted(self, text: str, observation: Any) -> int:
        """The item an ``ITEM`` field accepts: one of the items recommended now."""
        recommended = self._recommended(observation)
        found = re.search(r"\d+", text)
        if not found:
            raise ActionParseError("ACT: accept needs ITEM: <id>")
        if int(found.group()) not in recommended:
            shown = ", ".join(map(str, recommended)) or "none yet"
            raise ActionParseError(f"ITEM must be one of the items recommended now: {shown}")
        return int(found.group())

    # Protocol -----------------------------------------------------------------------------------

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        data = json_object(text)
        if data is not None:
            if role_of(agent) == "recommender":
                return self._recommender_json(data, observation)
            return self._user_json(data, observation)
        if role_of(agent) == "recommender":
            return self._recommender(text, observation)
        return self._user(text, observation)

    # The recommended items (also read by the JSON replies) ----------------------------------------

    @staticmethod
    def _recommended(observation: Any) -> list[int]:
        """The ids recommended now, each once."""
        return list(dict.fromkeys(int(i) for i in observation["recommended"] if i >= 0))

    # Describing actions -------------------------------------------------------------------------

    def describe(self, action: Any, observation: Any, agent: str) -> str:
        """``action`` as a command or keyed line, or as the JSON reply where that cannot carry
        its texts exactly (`envs.recommendation.protocol_describe` says what no reply can say)."""
        return describe_dialogue(self, action, observation, agent)

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        if role_of(agent) == "recommender":
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
