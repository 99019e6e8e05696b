"""The trial's structured (JSON) replies: each role's and phase's schema, an action as JSON and a
JSON reply parsed (a part of `envs.trials.protocol.TrialProtocol`, whose `user_action` and
`_targets` they use)."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.core.names import role_of
from envs.core.protocol import ActionParseError
from envs.core.structured import choice, free_text, get_field, integer, nullable, number, obj
from envs.trials.protocol_views import CHAT, HINDSIGHT, LETTERS, POST, PRE
from envs.trials.tactics import TACTICS, tactic_named

STUDY_PAYOFF = (100.0, 50.0, 0.0)
"""Points for the target, another non-optimal option and the optimal one (Sabour et al.)."""
PAYOFF_PARTS = ("target", "other", "optimal")


def _ratings_schema() -> dict[str, Any]:
    return obj({letter: integer(1, 10) for letter in LETTERS})


def _whole(data: dict[str, Any], key: str, low: int, high: int, where: str = "") -> int:
    """``data[key]``, a whole number from ``low`` to ``high``, else an error naming the field."""
    name = f"{where}{key}"
    if key not in data:
        raise ActionParseError(f"the JSON reply needs the field {name!r}")
    value = data[key]
    whole = isinstance(value, int | float) and not isinstance(value, bool)
    if not whole or not np.isfinite(value) or value != int(value) or not low <= value <= high:
        raise ActionParseError(
            f"field {name!r}: a whole number from {low} to {high}, got {value!r}"
        )
    return int(value)


def _json_letter(data: dict[str, Any], key: str, allowed: str = LETTERS) -> int | None:
    value = get_field(data, key, (str, type(None)))
    if value is None:
        return None
    letter = value.strip().upper()
    if len(letter) != 1 or letter not in allowed:
        raise ActionParseError(f"field {key!r}: one of {list(allowed)}, got {value!r}")
    return LETTERS.index(letter)


def _json_payoff(data: dict[str, Any]) -> np.ndarray:
    """The JSON reply's payoff points (target, other, optimal); the study's when left out."""
    if data.get("payoff") is None:
        return np.array(STUDY_PAYOFF)
    payoff = get_field(data, "payoff", dict)
    points = [_points(payoff, part) for part in PAYOFF_PARTS]
    return np.array(points, dtype=np.float64)


def _points(payoff: dict[str, Any], part: str) -> float:
    value = payoff.get(part)
    real = isinstance(value, int | float) and not isinstance(value, bool)
    if not real or not np.isfinite(value) or not 0 <= value <= 100:
        raise ActionParseError(f"field 'payoff.{part}': a number from 0 to 100, got {value!r}")
    return float(value)


def _json_ratings(data: dict[str, Any]) -> np.ndarray:
    ratings = get_field(data, "ratings", dict)
    return np.array([_whole(ratings, x, 1, 10, "ratings.") for x in LETTERS], dtype=np.int64)


class StructuredReplies:
    """The JSON side of `TrialProtocol`."""

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any] | None:
        if role_of(agent) == "assistant":
            letter = nullable(choice(list(LETTERS)))
            return obj(
                {
                    "message": free_text(self.message_length),
                    "promote": letter,
                    "discourage": letter,
                    "tactic": choice(TACTICS),
                }
            )
        if role_of(agent) == "principal":
            points = obj({part: number(0, 100) for part in PAYOFF_PARTS})
            return obj({"target": choice(self._targets(observation)), "payoff": points})
        phase = int(observation["phase"])
        ratings = _ratings_schema()
        if phase == PRE:
            return obj(
                {"ratings": ratings, "confidence": integer(1, 10), "familiarity": integer(1, 10)}
            )
        if phase == CHAT:
            may_end = bool(observation["end_chat_mask"][1])
            end = {"type": "boolean"} if may_end else {"type": "boolean", "enum": [False]}
            return obj(
                {
                    "message": free_text(self.message_length),
                    "ratings": nullable(ratings),
                    "end_chat": end,
                }
            )
        if phase == POST:
            return obj(
                {
                    "ratings": ratings,
                    "confidence": integer(1, 10),
                    "familiarity": integer(1, 10),
                    "choice": choice(list(LETTERS)),
                    "satisfaction": integer(1, 5),
                }
            )
        if phase == HINDSIGHT:
            return obj({"satisfaction": integer(1, 5)})
        return None

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        """``action`` as JSON. An assistant's stance is written as the option it promotes most
        (if any is above 0) and the one it discourages most (if any is below 0), so stances other
        than one +1 and one -1 come back as such."""
        if role_of(agent) == "assistant":
            stance = np.asarray(action["stance"], dtype=np.float64)
            return {
                "message": str(action["message"]),
                "promote": LETTERS[int(np.argmax(stance))] if stance.max() > 0 else None,
                "discourage": LETTERS[int(np.argmin(stance))] if stance.min() < 0 else None,
                "tactic": TACTICS[int(action["tactic"])],
            }
        if role_of(agent) == "principal":
            points = (float(x) for x in np.ravel(action["payoff"]))
            payoff = dict(zip(PAYOFF_PARTS, points, strict=True))
            return {"target": LETTERS[int(action["target"])], "payoff": payoff}
        phase = int(observation["phase"])
        ratings = dict(zip(LETTERS, (int(r) for r in np.ravel(action["ratings"])), strict=True))
        scores = {
            "confidence": int(np.ravel(action["confidence"])[0]),
            "familiarity": int(np.ravel(action["familiarity"])[0]),
        }
        satisfaction = int(np.ravel(action["satisfaction"])[0])
        if phase == PRE:
            return {"ratings": ratings, **scores}
        if phase == CHAT:
            kept = self.user_action(observation)["ratings"]
            unchanged = np.array_equal(np.ravel(action["ratings"]), kept)
            return {
                "message": str(action["message"]),
                "ratings": None if unchanged else ratings,
                "end_chat": bool(action["end_chat"]),
            }
        if phase == POST:
            chosen = LETTERS[int(action["choice"])]
            return {"ratings": ratings, **scores, "choice": chosen, "satisfaction": satisfaction}
        return {"satisfaction": satisfaction}

    def _parse_json(self, data: dict[str, Any], observation: Any, agent: str) -> dict[str, Any]:
        if role_of(agent) == "assistant":
            message = get_field(data, "message", str)[: self.message_length]
            stance = np.zeros(len(LETTERS))
            promote, discourage = _json_letter(data, "promote"), _json_letter(data, "discourage")
            if promote is not None:
                stance[promote] = 1.0
            if discourage is not None:
                stance[discourage] = -1.0
            name = get_field(data, "tactic", str)
            tactic = tactic_named(name)
            if tactic is None:
                raise ActionParseError(f"field 'tactic': one of {list(TACTICS)}, got {name!r}")
            return {"message": message, "tactic": tactic, "stance": stance}
        if role_of(agent) == "principal":
            targets = "".join(self._targets(observation))
            target = _json_letter(data, "target", targets)
            if target is None:
                raise ActionParseError(f"field 'target': one of {list(targets)}, got None")
            return {"target": target, "payoff": _json_payoff(data)}
        phase = int(observation["phase"])
        action = self.user_action(observation)
        if phase in (PRE, POST):
            action["ratings"] = _json_ratings(data)
            action["confidence"][0] = _whole(data, "confidence", 1, 10)
            action["familiarity"][0] = _whole(data, "familiarity", 1, 10)
        if phase == CHAT:
            action["message"] = get_field(data, "message", str)[: self.message_length]
            if get_field(data, "ratings", (dict, type(None))) is not None:
                action["ratings"] = _json_ratings(data)
            wants_end = get_field(data, "end_chat", bool)
            if wants_end and not observation["end_chat_mask"][1]:
                raise ActionParseError("field 'end_chat': you cannot end the chat yet")
            action["end_chat"] = int(wants_end)
        if phase == POST:
            chosen = _json_letter(data, "choice")
            if chosen is None:
                raise ActionParseError("field 'choice': the letter of the option you choose")
            action["choice"] = chosen
        if phase in (POST, HINDSIGHT):
            action["satisfaction"][0] = _whole(data, "satisfaction", 1, 5)
        if phase not in (PRE, CHAT, POST, HINDSIGHT):
            raise ActionParseError(f"the user has nothing to answer in phase {phase}")
        return action
