"""How LLM and human players act in the feed: short keyed lines.

The recommender::

    SHOW: 12, 45, 7          item ids, at most the slate size (a repeated id counts once)
    SAY: <a line to the user> (optional)

The user (an LLM user simulator or a person), one of::

    CLICK: 2                 the slot (1..slate size) of the item to open
    SKIP
    COMMAND: no more horror  any request in words ("cheaper", "more like this", ...)
    LEAVE

Keys may share a line or take one each; case does not matter. The user's first key is its
answer (a command runs to the end of its line). Both see the format once, in `instructions`;
`render` writes the view from the structured observation alone (`envs.recommendation.
protocol_views`; the env's ``text`` field is the same view): for the user also its tastes
(interests per category and attribute value), how well each slot fits them and its last click;
for the recommender also whether the user's last command was understood. `describe` writes an
action in this format, or as the JSON reply below where the format cannot carry it exactly.

Either may instead reply with one JSON object (`reply_schema` states its shape now)::

    recommender  {"slate": [12, 45, 7], "message": "..."}   ids from the candidates (the
                                                             shortlist of the text view and the
                                                             slates `valid_actions` offers); a
                                                             repeated id counts once
    user         {"response": "click", "slot": 2}            (a slot that shows an item)
                 {"response": "skip"} | {"response": "leave"}
                 {"response": "command", "command": "no more horror"}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.core.names import role_of
from envs.core.protocol import ActionParseError, TextProtocol, ValidAction, keyed_or_json
from envs.core.spaces import normalize_text
from envs.core.structured import array, const, free_text, get_field, json_object, obj, one_of
from envs.core.text import Memo, keyed_fields
from envs.recommendation.feed_views import signed, slate_fit, taste_lines
from envs.recommendation.protocol_views import Layout, recommender_view, user_view

RECOMMENDER_KEYS, USER_KEYS = ("SHOW", "SAY"), ("CLICK", "SKIP", "COMMAND", "LEAVE")

RECOMMENDER_FORMAT = (
    "Answer on one line: SHOW: <up to {size} item ids separated by commas> and, if you like, "
    "SAY: <one line to the user>."
)
USER_FORMAT = (
    "Answer on one line with one of: CLICK: <slot number> | SKIP | COMMAND: <your request in "
    "words> | LEAVE"
)
SAY_TOKENS, COMMAND_TOKENS = 32, 24
"""Room (tokens) reserved in a reply for the recommender's line and for the user's command."""
_SLATE_TOKENS, _ID_TOKENS, _USER_TOKENS = 16, 7, 16
"""The rest of the longest replies, as JSON, the longer form (SmolLM2 tokens, measured, with a
margin): a slate's keys, each item id (up to 5 digits and a separator), the user's keys."""
STOP_SEQUENCES = ("\n\n",)
"""Both formats are one line; a blank line starts something else."""
NOT_UNDERSTOOD = 2
"""`last_command` of a command the feed's parser could not read."""


def _key_pattern(keys: tuple[str, ...], text: str) -> re.Pattern[str]:
    """How ``keys`` are found in ``text``: written in capitals, as the format asks, when any is
    (so "I won't skip" inside a command is no key), else in any case ("skip")."""
    capitals = re.compile(r"\b(" + "|".join(keys) + r")\b\s*:?")
    if capitals.search(text):
        return capitals
    return re.compile(capitals.pattern, re.IGNORECASE)


def _fields(keys: tuple[str, ...], text: str) -> dict[str, str]:
    """Key -> value text, for every one of ``keys`` in ``text`` (a value runs to the next key;
    a message keeps its final full stop)."""
    return keyed_fields(text, _key_pattern(keys, text), strip=" \n;,")


class FeedProtocol(TextProtocol):
    """The feed's text protocol for both roles."""

    name = "rec_feed"

    def __init__(
        self,
        slate_size: int,
        message_length: int,
        command_length: int,
        category_names: tuple[str, ...] = (),
        attribute_values: Mapping[str, tuple[str, ...]] | None = None,
        shortlist: int = 20,
        domain: str = "books",
        max_steps: int = 30,
    ) -> None:
        self.slate_size = slate_size
        self.message_length = message_length
        self.command_length = command_length
        self.category_names = category_names
        """The catalog layout (names behind the observation's codes; the same for every seed)."""
        self.attribute_values = dict(attribute_values or {})
        self.shortlist = shortlist
        """How many candidates a structured reply may show from (the text view's count)."""
        self.max_message_chars = message_length
        self.layout = Layout(domain, tuple(category_names), self.attribute_values)
        self._tastes = Memo(self._taste_lines, "interests")
        self.max_steps = max_steps

    def instructions(self, agent: str) -> str:
        if role_of(agent) == "recommender":
            return (
                "Each turn you show the user a slate of items; the user clicks one, skips, asks "
                "for something in words, or leaves. Every item you show must respect the user's "
                "standing requests. " + RECOMMENDER_FORMAT.format(size=self.slate_size)
            )
        return (
            "Each turn the feed shows you a slate of items by slot; you click one, skip them "
            "all, ask for something in words, or leave. Clicking a good item (its rating) that "
            "fits your tastes makes you more satisfied; a poor one, however catchy (its buzz), "
            "makes you less so, and so do items against your standing requests. " + USER_FORMAT
        )

    def render(self, observation: Any, agent: str) -> str:
        """The role's view from the structured fields, never the ``text`` field (the format is
        stated once, in `instructions`)."""
        if role_of(agent) == "recommender":
            view = recommender_view(observation, self.layout, self.max_steps, self.slate_size)
            return "\n".join([view, *self._recommender_facts(observation)]).strip()
        tastes = self._tastes(observation)
        lines = [*tastes, user_view(observation, self.layout), *self._user_facts(observation)]
        return "\n".join(line for line in lines if line)

    def _taste_lines(self, observation: Any) -> list[str]:
        """The user's interests in words (fixed for an episode: the env shares them)."""
        return taste_lines(
            self.category_names,
            self.attribute_values,
            observation["interests"],
            observation["value_interests"],
        )

    @staticmethod
    def _recommender_facts(observation: Any) -> list[str]:
        """Whether the user's last command could be read into a standing request."""
        if int(observation["last_command"]) == NOT_UNDERSTOOD:
            return [
                "The feed could not read the user's last command into a request; follow its "
                "words yourself."
            ]
        return []

    def _user_facts(self, observation: Any) -> list[str]:
        """How well each filled slot fits the user's tastes, and its last click."""
        filled = self._filled(observation)
        facts = []
        if filled:
            fit = slate_fit(
                observation["slate_category"],
                observation["slate_attributes"],
                observation["interests"],
                observation["value_interests"],
                [len(values) for values in self.attribute_values.values()],
            )
            shown = ", ".join(f"{slot}: {signed(fit[slot - 1])}" for slot in filled)
            facts.append(f"How well each slot fits your tastes: {shown}")
        if int(observation["last_click"][0]) >= 0:
            facts.append(f"Your last click: item [{int(observation['last_click'][0])}]")
        return facts

    def reply_tokens(self, agent: str) -> int:
        """The longest reply (a JSON slate of the most ids with a line, or a command) with room
        for its free text."""
        if role_of(agent) == "recommender":
            return _SLATE_TOKENS + self.slate_size * _ID_TOKENS + SAY_TOKENS
        return _USER_TOKENS + COMMAND_TOKENS

    def stop_sequences(self, agent: str) -> tuple[str, ...]:
        return STOP_SEQUENCES

    # Parsing ------------------------------------------------------------------------------------

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        data = json_object(text)
        if data is not None:
            if role_of(agent) == "recommender":
                return self._recommender_json(data, observation)
            return self._user_json(data, observation)
        if role_of(agent) == "recommender":
            return self._recommender(_fields(RECOMMENDER_KEYS, text), observation)
        return self._user(text, observation)

    def _recommender(self, fields: dict[str, str], observation: Any) -> dict[str, Any]:
        if "SHOW" not in fields:
            raise ActionParseError("start with SHOW: <item ids separated by commas>")
        ids = list(dict.fromkeys(int(x) for x in re.findall(r"-?\d+", fields["SHOW"])))
        n_items = len(observation["item_category"])
        if not ids:
            raise ActionParseError("SHOW needs at least one item id")
        if len(ids) > self.slate_size:
            raise ActionParseError(f"SHOW at most {self.slate_size} items, got {len(ids)}")
        bad = [i for i in ids if not 0 <= i < n_items]
        if bad:
            raise ActionParseError(f"item ids are 0-{n_items - 1}; {bad[0]} is not one")
        return self.recommender_action(ids, fields.get("SAY", ""))

    def recommender_action(self, items: Any, message: str = "") -> dict[str, Any]:
        """A recommender action showing ``items`` (padded with -1 to the slate size)."""
        slate = np.full(self.slate_size, -1, dtype=np.int64)
        chosen = [int(i) for i in items][: self.slate_size]
        slate[: len(chosen)] = chosen
        return {"slate": slate, "message": message[: self.message_length]}

    def _user(self, text: str, observation: Any) -> dict[str, Any]:
        """The first user key in ``text`` is the answer; a command runs to the end of its line
        (so "COMMAND: something I won't skip" stays whole)."""
        first = _key_pattern(USER_KEYS, text).search(text)
        key = first.group(1).upper() if first else ""
        if key == "CLICK":
            match = re.search(r"\d+", _fields(USER_KEYS, text)["CLICK"])  # "CLICK: slot 2" too
            if not match or not 1 <= int(match.group()) <= self.slate_size:
                raise ActionParseError(f"CLICK needs a slot number from 1 to {self.slate_size}")
            slot = int(match.group())
            if not observation["response_mask"][slot]:
                raise ActionParseError(f"slot {slot} is empty; click a slot that shows an item")
            return self.user_action(slot)
        if key == "COMMAND":
            command = text[first.end() :].strip().split("\n")[0].strip(" \"'")
            if not command:
                raise ActionParseError("COMMAND needs your request in words")
            return self.user_action(self.slate_size + 1, command)
        if key == "LEAVE":
            return self.user_action(self.slate_size + 2)
        if key == "SKIP":
            return self.user_action(0)
        raise ActionParseError("answer CLICK: <slot>, SKIP, COMMAND: <request> or LEAVE")

    def user_action(self, response: int, command: str = "") -> dict[str, Any]:
        """A user action: 0 skip, 1..slate size click, slate size + 1 command, + 2 leave."""
        return {"response": int(response), "command": command[: self.command_length]}

    # Structured replies -------------------------------------------------------------------------

    def candidates(self, observation: Any) -> list[int]:
        """The items a structured slate may show now: the observation's shortlist (the allowed
        items, those like a "more like" item first, by popularity) and the items of the slates
        `valid_actions` offers."""
        shown = [int(i) for i in observation["candidates"] if i >= 0]
        for slate in self._recommender_slates(observation):
            shown += slate
        return list(dict.fromkeys(shown))

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any]:
        if role_of(agent) == "recommender":
            shown = self.candidates(observation)
            ids = {"type": "integer", "enum": shown}
            return obj(
                {
                    "slate": array(ids, 1, min(self.slate_size, len(shown))),
                    "message": free_text(self.message_length),
                }
            )
        variants = [obj({"response": const("skip")})]
        slots = self._filled(observation)
        if slots:
            slot = {"type": "integer", "enum": slots}
            variants.append(obj({"response": const("click"), "slot": slot}))
        variants.append(
            obj({"response": const("command"), "command": free_text(self.command_length)})
        )
        variants.append(obj({"response": const("leave")}))
        return one_of(variants)

    def _filled(self, observation: Any) -> list[int]:
        mask = observation["response_mask"]
        return [slot for slot in range(1, self.slate_size + 1) if mask[slot]]

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        if role_of(agent) == "recommender":
            slate = [int(i) for i in np.ravel(action["slate"]) if i >= 0]
            return {"slate": slate, "message": str(action["message"])}
        response = int(action["response"])
        if response == 0:
            return {"response": "skip"}
        if response <= self.slate_size:
            return {"response": "click", "slot": response}
        if response == self.slate_size + 1:
            return {"response": "command", "command": str(action["command"])}
        return {"response": "leave"}

    def _recommender_json(self, data: dict[str, Any], observation: Any) -> dict[str, Any]:
        ids = get_field(data, "slate", list)
        if not 1 <= len(ids) <= self.slate_size:
            raise ActionParseError(f"field 'slate': 1 to {self.slate_size} ids, got {len(ids)}")
        allowed = set(self.candidates(observation))
        chosen = []
        for item in ids:
            whole = isinstance(item, int | float) and not isinstance(item, bool)
            if not whole or not math.isfinite(item) or item != int(item) or item not in allowed:
                raise ActionParseError(
                    f"field 'slate': {item!r} is not one of the candidates {sorted(allowed)[:50]}"
                )
            chosen.append(int(item))
        return self.recommender_action(dict.fromkeys(chosen), get_field(data, "message", str))

    def _user_json(self, data: dict[str, Any], observation: Any) -> dict[str, Any]:
        response = get_field(data, "response", str)
        if response == "skip":
            return self.user_action(0)
        if response == "leave":
            return self.user_action(self.slate_size + 2)
        if response == "command":
            return self.user_action(self.slate_size + 1, get_field(data, "command", str))
        if response == "click":
            slot = get_field(data, "slot", (int, float))
            slots = self._filled(observation)
            if not math.isfinite(slot) or slot != int(slot) or int(slot) not in slots:
                raise ActionParseError(
                    f"field 'slot': one of the filled slots {slots}, got {slot!r}"
                )
            return self.user_action(int(slot))
        raise ActionParseError(
            f"field 'response': one of ['skip', 'click', 'command', 'leave'], got {response!r}"
        )

    # Describing actions -------------------------------------------------------------------------

    def describe(self, action: Any, observation: Any, agent: str) -> str:
        """``action`` as a keyed line, or as the JSON reply where the line cannot carry its text
        exactly (`keyed_or_json`). Texts are written as the env stores them (`normalize_text`),
        a command only with COMMAND (the env reads it only then). A slate is written as its
        items in slot order, a repeated id once (the env shows it once); a slate with an empty
        slot before a filled one, or with none filled, has no reply (SHOW fills slots from the
        first) and raises `ActionParseError`."""
        if role_of(agent) == "recommender":
            items = self._shown(action["slate"])
            message = normalize_text(action["message"], self.message_length)
            keyed = "SHOW: " + ", ".join(map(str, items)) + (f" SAY: {message}" if message else "")
            read = self.recommender_action(items, message)
        else:
            response = int(action["response"])
            command = ""
            if response == self.slate_size + 1:
                command = normalize_text(action["command"], self.command_length)
            read = self.user_action(response, command)
            if response == 0:
                keyed = "SKIP"
            elif response <= self.slate_size:
                keyed = f"CLICK: {response}"
            elif response == self.slate_size + 1:
                keyed = f"COMMAND: {command}"
            else:
                keyed = "LEAVE"
        return keyed_or_json(self, keyed, read, observation, agent)

    def _shown(self, slate: Any) -> list[int]:
        """The items of a slate in slot order as the env shows them (a repeated id once), or
        `ActionParseError` where an empty slot comes before a filled one."""
        shown: list[int] = []
        gap = False
        for item in np.ravel(slate)[: self.slate_size].tolist():
            if item < 0 or item in shown:
                gap = True
            elif gap:
                raise ActionParseError("a slate with an empty slot before an item has no reply")
            else:
                shown.append(int(item))
        if not shown:
            raise ActionParseError("an empty slate has no reply: SHOW needs an item")
        return shown

    # Constrained choice --------------------------------------------------------------------------

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        if role_of(agent) == "recommender":
            labels = self._recommender_labels(observation)
        else:
            labels = ["SKIP"]
            labels += [f"CLICK: {s}" for s in range(1, self.slate_size + 1)
                       if observation["response_mask"][s]]  # fmt: skip
            labels += ["COMMAND: something different", "COMMAND: cheaper", "LEAVE"]
        return [ValidAction(label, self.parse(label, observation, agent)) for label in labels]

    def _recommender_labels(self, observation: Any) -> list[str]:
        labels = []
        for slate in self._recommender_slates(observation):
            label = "SHOW: " + ", ".join(str(i) for i in slate)
            if label not in labels:
                labels.append(label)
        return labels

    def _recommender_slates(self, observation: Any) -> list[list[int]]:
        """The top slates by popularity and by quality among the allowed items (not the last
        slate after "something different"), and by engagement among all."""
        allowed = np.asarray(observation["item_allowed"], dtype=bool)
        if observation["different"]:
            allowed = allowed.copy()
            allowed[[int(i) for i in observation["history_slates"][0] if i >= 0]] = False
        if not allowed.any():
            allowed = np.ones_like(allowed)
        slates = []
        for key in ("item_popularity", "item_quality", "item_engagement"):
            score = np.where(allowed, np.asarray(observation[key], dtype=np.float64), -np.inf)
            if key == "item_engagement":
                score = np.asarray(observation[key], dtype=np.float64)
            top = np.argsort(-score, kind="stable")[: self.slate_size]
            slates.append([int(i) for i in top])
        return slates
