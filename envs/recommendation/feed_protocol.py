"""How LLM and human players act in the feed: short keyed lines.

The recommender::

    SHOW: 12, 45, 7          item ids, at most the slate size, each once
    SAY: <a line to the user> (optional)

The user (an LLM user simulator or a person), one of::

    CLICK: 2                 the slot (1..slate size) of the item to open
    SKIP
    COMMAND: no more horror  any request in words ("cheaper", "more like this", ...)
    LEAVE

Keys may share a line or take one each; case does not matter.

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

from envs.core.protocol import ActionParseError, TextProtocol, ValidAction
from envs.core.structured import array, const, free_text, get_field, json_object, obj, one_of
from envs.core.text import keyed_fields
from envs.recommendation.commands import similar_mask
from envs.recommendation.feed_views import candidates as shortlist_of

KEYS = ("SHOW", "SAY", "CLICK", "SKIP", "COMMAND", "LEAVE")
_KEY = re.compile(r"\b(" + "|".join(KEYS) + r")\b\s*:?", re.IGNORECASE)

RECOMMENDER_FORMAT = (
    "Answer with SHOW: <item ids separated by commas> and, if you like, SAY: <one line to the "
    "user>."
)
USER_FORMAT = (
    "Answer with one of: CLICK: <slot number> | SKIP | COMMAND: <your request in words> | LEAVE"
)


def _fields(text: str) -> dict[str, str]:
    """Key -> value text, for every known key in ``text`` (a value runs to the next key)."""
    return keyed_fields(text, _KEY)


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
    ) -> None:
        self.slate_size = slate_size
        self.message_length = message_length
        self.command_length = command_length
        self.category_names = category_names
        """The catalog layout (names behind the observation's codes; the same for every seed)."""
        self.attribute_values = dict(attribute_values or {})
        self.shortlist = shortlist
        """How many candidates a structured reply may show from (the text view's count)."""

    def instructions(self, agent: str) -> str:
        if agent.startswith("recommender"):
            return (
                "You run a recommendation feed. Each turn you show the user a slate of items; "
                "the user clicks one, skips, asks for something in words, or leaves. "
                + RECOMMENDER_FORMAT
            )
        return "You scroll a recommendation feed. " + USER_FORMAT

    def render(self, observation: Any, agent: str) -> str:
        answer = RECOMMENDER_FORMAT if agent.startswith("recommender") else USER_FORMAT
        return f"{observation['text']}\n{answer}"

    # Parsing ------------------------------------------------------------------------------------

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        data = json_object(text)
        if data is not None:
            if agent.startswith("recommender"):
                return self._recommender_json(data, observation)
            return self._user_json(data, observation)
        fields = _fields(text)
        if agent.startswith("recommender"):
            return self._recommender(fields, observation)
        return self._user(fields, observation)

    def _recommender(self, fields: dict[str, str], observation: Any) -> dict[str, Any]:
        if "SHOW" not in fields:
            raise ActionParseError("start with SHOW: <item ids separated by commas>")
        ids = [int(x) for x in re.findall(r"-?\d+", fields["SHOW"])]
        n_items = len(observation["item_category"])
        if not ids:
            raise ActionParseError("SHOW needs at least one item id")
        if len(ids) > self.slate_size:
            raise ActionParseError(f"SHOW at most {self.slate_size} items, got {len(ids)}")
        bad = [i for i in ids if not 0 <= i < n_items]
        if bad:
            raise ActionParseError(f"item ids are 0-{n_items - 1}; {bad[0]} is not one")
        if len(set(ids)) < len(ids):
            raise ActionParseError("SHOW each item once")
        return self.recommender_action(ids, fields.get("SAY", ""))

    def recommender_action(self, items: Any, message: str = "") -> dict[str, Any]:
        """A recommender action showing ``items`` (padded with -1 to the slate size)."""
        slate = np.full(self.slate_size, -1, dtype=np.int64)
        chosen = [int(i) for i in items][: self.slate_size]
        slate[: len(chosen)] = chosen
        return {"slate": slate, "message": message[: self.message_length]}

    def _user(self, fields: dict[str, str], observation: Any) -> dict[str, Any]:
        mask = observation["response_mask"]
        if "CLICK" in fields:
            match = re.match(r"\d+", fields["CLICK"])
            if not match or not 1 <= int(match.group()) <= self.slate_size:
                raise ActionParseError(f"CLICK needs a slot number from 1 to {self.slate_size}")
            slot = int(match.group())
            if not mask[slot]:
                raise ActionParseError(f"slot {slot} is empty; click a slot that shows an item")
            return self.user_action(slot)
        if "COMMAND" in fields:
            if not fields["COMMAND"]:
                raise ActionParseError("COMMAND needs your request in words")
            return self.user_action(self.slate_size + 1, fields["COMMAND"])
        if "LEAVE" in fields:
            return self.user_action(self.slate_size + 2)
        if "SKIP" in fields:
            return self.user_action(0)
        raise ActionParseError("answer CLICK: <slot>, SKIP, COMMAND: <request> or LEAVE")

    def user_action(self, response: int, command: str = "") -> dict[str, Any]:
        """A user action: 0 skip, 1..slate size click, slate size + 1 command, + 2 leave."""
        return {"response": int(response), "command": command[: self.command_length]}

    # Structured replies -------------------------------------------------------------------------

    def candidates(self, observation: Any) -> list[int]:
        """The items a structured slate may show now: the text view's shortlist (the allowed
        items, those like a "more like" item first, by popularity) and the items of the slates
        `valid_actions` offers."""
        allowed = np.asarray(observation["item_allowed"], dtype=bool)
        popular = np.argsort(-np.asarray(observation["item_popularity"]), kind="stable")
        anchor = int(observation["similar_to"][0])
        similar = None
        if anchor >= 0:
            items = np.arange(len(allowed))
            attributes = np.asarray(observation["item_attributes"])
            similar = similar_mask(observation["item_category"], attributes, anchor, items)
        shown = shortlist_of(allowed.astype(np.int8), popular, similar, self.shortlist)
        for slate in self._recommender_slates(observation):
            shown += slate
        return list(dict.fromkeys(shown))

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any]:
        if agent.startswith("recommender"):
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
        if agent.startswith("recommender"):
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

    # Constrained choice --------------------------------------------------------------------------

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        if agent.startswith("recommender"):
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
