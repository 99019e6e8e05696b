"""The persuasion game's text protocol: 'RECOMMEND YES' / 'RECOMMEND NO' and 'BUY' / 'PASS'.

Everything a player is told comes from its observation, so the text reveals exactly what the
structured observation does (the buyer's value only to a seller with complete information, the
round-by-round history to the seller and to a long-lived buyer, a myopic buyer only the counts;
each is told the other's kind: the seller whether the buyer is long-lived, the buyer whether the
seller knows its values, as in GLEE). The answer format is stated once, in `instructions`;
`render` names only what the player may do now.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from typing import Any

from envs.core.protocol import ActionParseError, ValidAction
from envs.core.spaces import normalize_text
from envs.core.structured import choice as choice_schema
from envs.core.structured import free_text, get_field, json_object, obj
from envs.core.text import (
    REPLY_WRAPPING,
    dollars,
    echo,
    known_agent,
    leading_command,
    names_another,
    reply_message,
    split_message,
)
from envs.games.game_protocol import GameProtocol
from envs.games.persuasion_rules import AGENTS, NO, SELLER, YES
from envs.games.two_player import shown_rounds

_BARE = r"(yes|no)(?=\s*(?:[.!\n]|message\s*:|$))"
"""A bare YES or NO: followed only by a sentence end, a message, or nothing ("No problem, buy
it" is not a bare NO)."""
_RECOMMEND = re.compile(rf"recommend(?:ation)?\b\s*:?\s*(yes|no)\b|{_BARE}", re.IGNORECASE)
_DECIDE = re.compile(rf"(buy|pass)\b|{_BARE}", re.IGNORECASE)
_OTHER_CHOICES = {
    True: {YES: ("recommend no", "no"), NO: ("recommend yes", "yes")},
    False: {YES: ("pass", "no"), NO: ("buy", "yes")},
}
"""Per role (seller?) and choice, the answers whose naming after it makes a reply ambiguous."""
_SELLER_FORMAT = "'RECOMMEND YES' or 'RECOMMEND NO'"
_BUYER_FORMAT = "'BUY' or 'PASS'"
_ROLES = {True: "seller", False: "buyer"}
_JSON_CHOICES = {True: ("do_not_recommend", "recommend"), False: ("pass", "buy")}
"""Each role's JSON decisions, indexed by choice (`NO`, `YES`)."""


class PersuasionProtocol(GameProtocol):
    """Text for `envs.games.persuasion`; replies are case-insensitive.

    The seller answers ``RECOMMEND YES`` or ``RECOMMEND NO`` (or just ``YES`` / ``NO``); the buyer
    ``BUY`` or ``PASS`` (``YES`` / ``NO`` also do). Text may follow the command after a space or
    punctuation (after a sentence end for a bare ``YES`` / ``NO``): in text mode it is the
    message the other player reads (after a ``MESSAGE:`` marker if there is one, else all of it:
    ``RECOMMEND YES MESSAGE: Great value!``, ``BUY. You have been honest.``); in binary mode it
    is dropped. A reply whose text names the other answer (``BUY or PASS``) is ambiguous and
    rejected. ``message_length`` bounds parsed messages, as the env's action space does.

    Structured replies (`reply_schema`) are JSON objects: the seller answers
    ``{"decision": "recommend"}`` or ``{"decision": "do_not_recommend"}``, the buyer
    ``{"decision": "buy"}`` or ``{"decision": "pass"}``; in text mode the object also has
    ``"message": "<text>"`` ("" for none), cut to ``message_length`` by `parse`. `parse` also
    reads ``"yes"`` / ``"no"`` as either role's decision, and drops a message in binary mode.
    """

    name = "persuasion"
    agents = AGENTS
    command_tokens = 20
    """The longest command reply with room to spare: its JSON form, {"decision": "do_not_recommend",
    "message": ""}, is 16 tokens of the bundled model's tokenizer."""

    def instructions(self, agent: str) -> str:
        rules = (
            "Rules:\n"
            "- The game has a fixed number of rounds. In each, a new product is of high quality "
            "with a known probability, else of low quality.\n"
            "- The seller sees the quality and recommends buying or not (in some games with a "
            "message). The buyer then buys at the price or passes, and learns the quality.\n"
            "- The seller earns the price for every sale. A buyer who buys gains its value of "
            "the product minus the price: positive for high quality, negative for low.\n"
            "- Each turn tells you the round, the price, the chance of high quality, the values "
            "you know, and what you know of the past rounds.\n"
        )
        if known_agent(agent, AGENTS) == SELLER:
            return (
                "You are the seller, recommending products to a buyer round after round.\n"
                + rules
                + "Your goal: sell as many products as you can.\n"
                "Answer format (start your answer with it): 'RECOMMEND YES' or 'RECOMMEND NO'.\n"
                "Where messages are allowed, text after it is sent to the buyer as your message "
                "(you may mark it 'MESSAGE: <text>'); otherwise it is not sent."
            )
        return (
            "You are the buyer, offered a product each round by a seller who knows its quality.\n"
            + rules
            + "Your goal: maximise your total gain.\n"
            "Answer format (start your answer with it): 'BUY' or 'PASS'.\n"
            "Where messages are allowed, text after it is sent to the seller as your message "
            "(you may mark it 'MESSAGE: <text>'); otherwise it is not sent."
        )

    def render_end(
        self, observation: Any, agent: str, metrics: Mapping[str, Any], truncated: bool
    ) -> str | None:
        """How many times the buyer bought and how many of those were of high quality: counts
        both roles see (``sold``, ``high_sold``); not the unsold rounds' quality, which a myopic
        buyer never learns."""
        played = int(observation["played"])
        if not played:
            return None
        sold, high = int(observation["sold"]), int(observation["high_sold"])
        stopped = " (stopped early)" if truncated else ""
        return (
            f"Over {played} round(s){stopped} the buyer bought {sold} time(s), {high} of them "
            "of high quality."
        )

    def render(self, observation: Any, agent: str) -> str:
        is_seller = known_agent(agent, AGENTS) == SELLER
        price = float(observation["money"][0])
        p_high = float(observation["p_high"][0])
        lines = [
            f"Round {int(observation['round'])} of {int(observation['rounds'])}.",
            f"The price is {dollars(price)}. Each product is of high quality with probability "
            f"{p_high:.1%}.",
        ]
        lines.extend(_render_values(observation, is_seller, price))
        if is_seller:
            lines.extend(_render_seller(observation))
        else:
            lines.extend(_render_buyer(observation))
        return "\n".join(lines)

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        data = json_object(text)
        if data is not None:
            return self._parse_json(data, observation, agent)
        reply = text.strip(REPLY_WRAPPING)
        if known_agent(agent, AGENTS) == SELLER:
            if not observation["recommend_mask"].any():
                raise ActionParseError("it is not the seller's turn to decide")
            found = leading_command(reply, _RECOMMEND)
            if found is None:
                if leading_command(reply, _DECIDE):
                    raise ActionParseError(
                        f"you are the seller, the buyer buys or passes: answer {_SELLER_FORMAT}"
                    )
                raise ActionParseError(f"{_seller_expected(observation)}, got {echo(reply)}")
            match, rest = found
            choice = YES if (match.group(1) or match.group(2)).lower() == "yes" else NO
            return self.with_explanation(
                {"recommend": choice, "message": ""}, rest, observation, agent
            )
        if not observation["decision_mask"].any():
            raise ActionParseError("it is not the buyer's turn to decide")
        found = leading_command(reply, _DECIDE)
        if found is None:
            if reply.lower().startswith("recommend") and leading_command(reply, _RECOMMEND):
                raise ActionParseError(
                    f"you are the buyer, the seller recommends: answer {_BUYER_FORMAT}"
                )
            raise ActionParseError(f"expected {_BUYER_FORMAT}, got {echo(reply)}")
        match, rest = found
        choice = YES if (match.group(1) or match.group(2)).lower() in ("buy", "yes") else NO
        return self.with_explanation({"decision": choice, "message": ""}, rest, observation, agent)

    def with_explanation(self, action: Any, explanation: str, observation: Any, agent: str) -> Any:
        """``action`` with the text that followed it: rejected when the text names the other
        answer; in text mode kept as its message (marked or not) where it has none yet."""
        is_seller = known_agent(agent, AGENTS) == SELLER
        choice = operator.index(action["recommend" if is_seller else "decision"])
        text, marked = split_message(explanation)
        named = names_another(text, _OTHER_CHOICES[is_seller][choice])
        if named:
            expected = _SELLER_FORMAT if is_seller else _BUYER_FORMAT
            raise ActionParseError(
                f"your answer names both choices ({echo(text)} follows it, naming "
                f"{named.upper()}); answer one of {expected}"
            )
        message = text if marked is None else marked
        if observation["text_messages"] and message and not action["message"]:
            action = {**action, "message": normalize_text(message, self.message_length)}
        return action

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any] | None:
        """Seller: ``{"decision": "recommend" | "do_not_recommend"}``; buyer: ``{"decision":
        "buy" | "pass"}``; each with ``"message"`` in text mode. None when it is not ``agent``'s
        turn (there is nothing to reply)."""
        is_seller = known_agent(agent, AGENTS) == SELLER
        if not observation["recommend_mask" if is_seller else "decision_mask"].any():
            return None
        properties = {"decision": choice_schema(_JSON_CHOICES[is_seller])}
        if observation["text_messages"]:
            properties["message"] = free_text(self.message_length)
        return obj(properties)

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        """``action`` in the form of `reply_schema`, its message in text mode (normalised as the
        env stores it). ValueError for an action outside the space or when it is not
        ``agent``'s turn."""
        is_seller = known_agent(agent, AGENTS) == SELLER
        mask = observation["recommend_mask" if is_seller else "decision_mask"]
        picked = operator.index(action["recommend" if is_seller else "decision"])
        if picked not in (NO, YES):
            raise ValueError(f"{self.name}: {action!r} is not a valid action")
        if not mask.any():
            raise ValueError(f"{self.name}: it is not the {_ROLES[is_seller]}'s turn to decide")
        data: dict[str, Any] = {"decision": _JSON_CHOICES[is_seller][picked]}
        if observation["text_messages"]:
            data["message"] = normalize_text(action.get("message", ""), self.message_length)
        return data

    def _parse_json(self, data: dict[str, Any], observation: Any, agent: str) -> Any:
        is_seller = known_agent(agent, AGENTS) == SELLER
        role = _ROLES[is_seller]
        if not observation["recommend_mask" if is_seller else "decision_mask"].any():
            raise ActionParseError(f"it is not the {role}'s turn to decide")
        decision = get_field(data, "decision", str).strip().lower()
        choices = _JSON_CHOICES[is_seller]
        expected = f"expected {choices[YES]!r} or {choices[NO]!r}"
        if decision in choices or decision in ("yes", "no"):
            picked = YES if decision in (choices[YES], "yes") else NO
        elif decision in _JSON_CHOICES[not is_seller]:
            doing = "the buyer buys or passes" if is_seller else "the seller recommends"
            raise ActionParseError(f"field 'decision': you are the {role}, {doing}: {expected}")
        else:
            raise ActionParseError(f"field 'decision': {expected}, got {echo(decision)}")
        unexpected = [key for key in data if key not in ("decision", "message")]
        if unexpected:
            fields = ", ".join(repr(key) for key in unexpected)
            raise ActionParseError(f"unexpected field {fields} in the JSON reply")
        message = ""
        if observation["text_messages"] and data.get("message") is not None:
            message = normalize_text(get_field(data, "message", str), self.message_length)
        return {"recommend" if is_seller else "decision": picked, "message": message}

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        """Seller: RECOMMEND NO, then RECOMMEND YES. Buyer: PASS, then BUY."""
        if known_agent(agent, AGENTS) == SELLER:
            if not observation["recommend_mask"].any():
                return []
            return [
                ValidAction("RECOMMEND NO", {"recommend": NO, "message": ""}),
                ValidAction("RECOMMEND YES", {"recommend": YES, "message": ""}),
            ]
        if not observation["decision_mask"].any():
            return []
        return [
            ValidAction("PASS", {"decision": NO, "message": ""}),
            ValidAction("BUY", {"decision": YES, "message": ""}),
        ]

    def describe(self, action: Any, observation: Any, agent: str) -> str:
        """The reply `parse` reads back as ``action`` as the env reads it.

        Seller: ``RECOMMEND YES`` or ``RECOMMEND NO``; buyer: ``BUY`` or ``PASS``. In text mode
        either ends with `` MESSAGE: <text>`` when the message is not blank (as `reply_message`
        trims it); binary mode ignores messages, so none is written. ValueError for an action
        outside the space.
        """
        is_seller = known_agent(agent, AGENTS) == SELLER
        mask = observation["recommend_mask" if is_seller else "decision_mask"]
        choice = operator.index(action["recommend" if is_seller else "decision"])
        if choice not in (NO, YES):
            raise ValueError(f"{self.name}: {action!r} is not a valid action")
        if not mask.any():
            raise ValueError(f"{self.name}: it is not the {_ROLES[is_seller]}'s turn to decide")
        if is_seller:
            text = "RECOMMEND YES" if choice == YES else "RECOMMEND NO"
        else:
            text = "BUY" if choice == YES else "PASS"
        message = ""
        if observation["text_messages"]:
            message = reply_message(action.get("message", ""), self.message_length)
        return f"{text} MESSAGE: {message}" if message else text

    def safe_default(self, observation: Any, agent: str) -> Any:
        """Seller: the truthful recommendation (it sees the quality). Buyer: PASS (passing never
        loses money)."""
        if known_agent(agent, AGENTS) == SELLER:
            return {"recommend": int(observation["quality_high"]), "message": ""}
        return {"decision": NO, "message": ""}


def _render_values(observation: Any, is_seller: bool, price: float) -> list[str]:
    high = float(observation["value_high"][0]) * price
    low = float(observation["value_low"][0]) * price
    if not is_seller:
        knows = "knows" if observation["value_known"] else "does not know"
        return [
            f"To you, a high-quality product is worth {dollars(high)} and a low-quality one "
            f"{dollars(low)}. The seller {knows} how much each product is worth to you."
        ]
    if observation["value_known"]:
        return [
            f"To the buyer, a high-quality product is worth {dollars(high)} and a low-quality "
            f"one {dollars(low)}."
        ]
    return [
        "You do not know how much the buyer values a high-quality product; a low-quality one "
        f"is worth {dollars(low)} to it."
    ]


def _render_seller(observation: Any) -> list[str]:
    sold, high_sold = int(observation["sold"]), int(observation["high_sold"])
    if observation["long_memory"]:
        lines = [
            "The buyer is the same every round and sees every earlier round's recommendation, "
            "purchase and quality.",
            f"So far the buyer bought {_products(sold)}, {high_sold} of them of high quality.",
        ]
    else:
        lines = [
            "Each round a new buyer comes, who sees only how many products were sold so far and "
            "how many of them were of high quality.",
            f"So far the buyers bought {_products(sold)}, {high_sold} of them of high quality.",
        ]
    lines.extend(_history_lines(observation, seller=True))
    if observation["text_messages"] and observation["buyer_message"]:
        lines.append(f"The buyer's last message: {observation['buyer_message']!r}")
    if not observation["recommend_mask"].any():
        lines.append("You have nothing to decide now.")
        return lines
    quality = "HIGH" if observation["quality_high"] else "LOW"
    lines.append(f"This round's product is of {quality} quality.")
    ask = "Recommend it or not."
    if observation["text_messages"]:
        ask += " You may add a message to the buyer."
    lines.append(ask)
    return lines


def _render_buyer(observation: Any) -> list[str]:
    lines = _render_history(observation)
    if not observation["decision_mask"].any():
        lines.append("You have nothing to decide now.")
        return lines
    said = "recommends" if observation["recommendation"] else "does not recommend"
    lines.append(f"The seller {said} buying this round's product.")
    if observation["text_messages"]:
        message = observation["message"]
        lines.append(f"The seller's message: {message!r}" if message else "No message.")
    ask = "Buy it or not."
    if observation["text_messages"]:
        ask += " You may add a message to the seller."
    lines.append(ask)
    return lines


def _render_history(observation: Any) -> list[str]:
    """A long-lived buyer's record (counts, then each round); a myopic buyer's counts, which
    are all it sees (GLEE's myopic buyers are new each round and see the seller's record)."""
    sold, high_sold = int(observation["sold"]), int(observation["high_sold"])
    counts = f"{_products(sold)}, {high_sold} of them of high quality."
    if not observation["long_memory"]:
        return [
            f"Each round a new buyer comes; you are this round's. So far buyers bought {counts}"
        ]
    return [f"So far you bought {counts}", *_history_lines(observation, seller=False)]


def _history_lines(observation: Any, seller: bool) -> list[str]:
    """The rounds played, one line each in the player's words: the latest `HISTORY_SHOWN` of
    them (`shown_rounds`), oldest first."""
    played = int(observation["played"])
    if not played:
        return []
    rounds, heading = shown_rounds(played)
    recommended = observation["history_recommended"]
    bought = observation["history_bought"]
    quality = observation["history_quality"]
    lines = [heading]
    for past in rounds:
        said, did = recommended[past - 1] == YES, bought[past - 1] == YES
        grade = "high quality" if quality[past - 1] == YES else "low quality"
        if seller:
            said_text = "you recommended it" if said else "you did not recommend it"
            did_text = "the buyer bought" if did else "the buyer passed"
            lines.append(f"- Round {past}: {grade}, {said_text}, {did_text}.")
        else:
            said_text = "recommended" if said else "not recommended"
            did_text = "you bought" if did else "you passed"
            lines.append(f"- Round {past}: {said_text}, {did_text}, {grade}.")
    return lines


def _seller_expected(observation: Any) -> str:
    if observation["text_messages"]:
        return f"expected {_SELLER_FORMAT}, optionally followed by 'MESSAGE: <text>'"
    return f"expected {_SELLER_FORMAT}"


def _products(count: int) -> str:
    return f"{count} product" if count == 1 else f"{count} products"
