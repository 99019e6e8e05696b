"""The negotiation game's text protocol: 'OFFER <price>' and 'ACCEPT' / 'REJECT' / 'OUTSIDE'.

Everything a player is told comes from its observation, so the text reveals exactly what the
structured observation does (the other's value only under complete information, the horizon only
when announced).
"""

from __future__ import annotations

import math
import operator
import re
from typing import Any

import numpy as np

from envs.core.protocol import ActionParseError, TextProtocol, ValidAction
from envs.core.spaces import normalize_text
from envs.core.structured import (
    choice,
    const,
    free_text,
    get_field,
    json_object,
    number,
    obj,
    only_fields,
)
from envs.core.text import (
    REPLY_WRAPPING,
    dollars,
    echo,
    exact_amount,
    known_agent,
    plain_amount,
    reply_message,
)
from envs.games.negotiation_rules import (
    ACCEPT,
    AGENTS,
    NAMES,
    OFFER,
    OTHER,
    OUTSIDE,
    PRICE_CAP_MONEY,
    REJECT,
    SELLER,
)

_AMOUNT = re.compile(r"\$?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)")
_OFFER = re.compile(r"offer\b\s*:?\s*(.*?)\s*(?:\bmessage\s*:(.*))?", re.IGNORECASE | re.DOTALL)
_VERDICT = re.compile(
    r"(accept|reject|outside(?:\s+option)?|walk\s+away)\b[.!]*\s*(?:message\s*:.*)?",
    re.IGNORECASE | re.DOTALL,
)
_RESPONSES = "'ACCEPT', 'REJECT' or 'OUTSIDE'"
_VERDICTS = {ACCEPT: "ACCEPT", OUTSIDE: "OUTSIDE"}  # any other response is a rejection
_JSON_VERDICTS = {"accept": ACCEPT, "reject": REJECT, "outside": OUTSIDE}
_GRID_TENTHS = range(5, 16)  # valid_actions' price grid: 0.5, 0.6, ..., 1.5 times the money


class NegotiationProtocol(TextProtocol):
    """Text for `envs.games.negotiation`; replies are case-insensitive.

    Proposers answer ``OFFER <price>`` (an amount of money from 0 to the price cap; ``$`` and
    thousands commas allowed), optionally followed by ``MESSAGE: <text>`` where messages are
    allowed. Responders answer ``ACCEPT``, ``REJECT`` or ``OUTSIDE`` (also ``OUTSIDE OPTION`` or
    ``WALK AWAY``); a trailing ``MESSAGE:`` is tolerated and dropped: responses carry no message.

    ``message_length`` bounds parsed messages and ``price_cap`` parsed prices, as the env's action
    space does; a ``price_cap`` of None means 10 times the observed money, the env's cap whenever
    both value factors are at most 5.

    Structured replies (`reply_schema`) are JSON objects. A proposer answers
    ``{"decision": "offer", "price": <amount>}`` with a price from 0 to the price cap, plus
    ``"message": "<text>"`` ("" for none) where messages are allowed. A responder answers
    ``{"decision": "accept"}``, ``{"decision": "reject"}`` or ``{"decision": "outside"}`` (the
    outside option). `parse` drops a message where messages are not allowed, or in a response,
    and cuts one longer than ``message_length`` to it.
    """

    name = "negotiation"

    def __init__(self, message_length: int = 500, price_cap: float | None = None) -> None:
        self.message_length = message_length
        self.price_cap = price_cap

    def instructions(self, agent: str) -> str:
        me, other = NAMES[known_agent(agent, AGENTS)], NAMES[OTHER[agent]]
        if agent == SELLER:
            goal = "sell the good for as much as possible above your own value"
        else:
            goal = "buy the good for as little as possible below your own value"
        return (
            f"You are the {me}, negotiating with the {other} over the price of a good.\n"
            "Rules:\n"
            "- The Seller names a price in odd rounds (1, 3, ...), the Buyer in even rounds; the "
            "other player accepts it, rejects it, or takes the outside option.\n"
            "- An accepted offer ends the game with a trade at that price: the Seller gains the "
            "price minus the Seller's value of the good, the Buyer gains the Buyer's value minus "
            "the price.\n"
            "- After a rejection the next round starts and the player who rejected names a price.\n"
            "- The outside option ends the game without a trade: the Seller sells, or the Buyer "
            "buys, elsewhere at their own value, which gains nothing.\n"
            "- If a last round is announced and its offer is rejected, the game ends without a "
            "trade and both players gain nothing.\n"
            "- Each turn tells you your value of the good, the other player's if you know it, and "
            "the last round if it is announced.\n"
            f"Your goal: {goal}.\n"
            "Answer formats:\n"
            "- To propose: 'OFFER <price>', e.g. 'OFFER 9500'; '$' and commas are fine. Where "
            "messages are allowed you may end with 'MESSAGE: <text>'.\n"
            f"- To respond: {_RESPONSES}.\n"
            "Answer with the command only."
        )

    def render(self, observation: Any, agent: str) -> str:
        me, other = NAMES[known_agent(agent, AGENTS)], NAMES[OTHER[agent]]
        round_ = int(observation["round"])
        horizon = int(observation["horizon"])
        own = float(observation["own_value"][0])
        lines = [
            f"Round {round_}" + (f" of at most {horizon}." if horizon else "."),
            f"You are the {me}; the {other} is the other player.",
            f"You value the good at {dollars(own)}.",
        ]
        if observation["other_value_known"]:
            lines.append(
                f"The {other} values it at {dollars(float(observation['other_value'][0]))}."
            )
        else:
            lines.append(f"You do not know the {other}'s value of the good.")
        if horizon:
            lines.append(
                f"The game ends without a trade if the offer in round {horizon} is rejected."
            )
        else:
            lines.append("The number of rounds is not announced.")
        message = observation["last_message"]
        if message:
            lines.append(f"The {other}'s message: {message!r}")
        mask = observation["decision_mask"]
        if mask[OFFER]:
            lines.extend(_render_proposal(observation, agent, round_))
        elif mask[ACCEPT]:
            lines.extend(_render_response(observation, agent, round_, horizon, own))
        else:
            lines.append(f"It is the {other}'s turn; you have nothing to decide now.")
        return "\n".join(lines)

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        data = json_object(text)
        if data is not None:
            return self._parse_json(data, observation, agent)
        reply = text.strip(REPLY_WRAPPING)
        mask = observation["decision_mask"]
        if mask[OFFER]:
            return self._parse_offer(reply, observation)
        if mask[ACCEPT]:
            return _parse_verdict(reply, observation, agent)
        raise ActionParseError(
            f"it is not the {NAMES[known_agent(agent, AGENTS)]}'s turn to decide"
        )

    def _cap(self, observation: Any) -> float:
        if self.price_cap is not None:
            return self.price_cap
        return PRICE_CAP_MONEY * float(observation["money"][0])

    def _parse_offer(self, reply: str, observation: Any) -> dict[str, Any]:
        cap = self._cap(observation)
        expected = f"'OFFER <price>' with a price from 0 to {plain_amount(cap)}"
        match = _OFFER.fullmatch(reply)
        if match is None and _VERDICT.fullmatch(reply):
            raise ActionParseError(
                f"there is no offer to respond to: you propose now; answer {expected}"
            )
        amount = _AMOUNT.fullmatch(match.group(1)) if match else None
        if amount is None:
            raise ActionParseError(f"expected {expected}, got {echo(reply)}")
        price = float(amount.group(1).replace(",", ""))
        if price > cap:
            raise ActionParseError(
                f"the price must be at most {plain_amount(cap)}, got {plain_amount(price)}"
            )
        message = ""
        if observation["messages_allowed"] and match.group(2):
            message = normalize_text(match.group(2).strip(), self.message_length)
        return _offer_action(price, message)

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any] | None:
        """Proposer: ``{"decision": "offer", "price": 0..cap}`` (plus ``"message"`` where
        messages are allowed). Responder: ``{"decision": "accept" | "reject" | "outside"}``.
        None when it is not ``agent``'s turn (there is nothing to reply)."""
        known_agent(agent, AGENTS)
        mask = observation["decision_mask"]
        if mask[OFFER]:
            properties = {"decision": const("offer"), "price": number(0.0, self._cap(observation))}
            if observation["messages_allowed"]:
                properties["message"] = free_text(self.message_length)
            return obj(properties)
        if mask[ACCEPT]:
            return obj({"decision": choice(list(_JSON_VERDICTS))})
        return None

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        """``action`` as the env reads it, in the form of `reply_schema`: a proposer's action as
        an offer at its exact price whatever its ``decision``, with its message where messages
        are allowed (normalised as the env stores it); a responder's as ``accept``,
        ``outside``, else ``reject``. ValueError for an action outside the space, a price above
        the cap, or when it is not ``agent``'s turn."""
        name = NAMES[known_agent(agent, AGENTS)]
        decision = operator.index(action["decision"])
        price = float(np.asarray(action["price"], dtype=np.float64).item())
        if not (0 <= decision <= OUTSIDE and 0.0 <= price <= self._cap(observation)):
            raise ValueError(f"{self.name}: {action!r} is not a valid action")
        mask = observation["decision_mask"]
        if mask[ACCEPT]:
            return {"decision": _VERDICTS.get(decision, "REJECT").lower()}
        if not mask[OFFER]:
            raise ValueError(f"{self.name}: it is not the {name}'s turn to decide")
        data: dict[str, Any] = {"decision": "offer", "price": price + 0.0}
        if observation["messages_allowed"]:
            data["message"] = normalize_text(action.get("message", ""), self.message_length)
        return data

    def _parse_json(self, data: dict[str, Any], observation: Any, agent: str) -> dict[str, Any]:
        name = NAMES[known_agent(agent, AGENTS)]
        mask = observation["decision_mask"]
        if not (mask[OFFER] or mask[ACCEPT]):
            raise ActionParseError(f"it is not the {name}'s turn to decide")
        decision = get_field(data, "decision", str).strip().lower()
        if not mask[OFFER]:
            if decision in _JSON_VERDICTS:
                only_fields(data, ("decision", "message"))
                return _verdict_action(_JSON_VERDICTS[decision], observation)
            if decision == "offer":
                raise ActionParseError(
                    f"field 'decision': you are responding to the {NAMES[OTHER[agent]]}'s offer: "
                    "answer 'accept', 'reject' or 'outside' (after a rejection you name a price "
                    "next round)"
                )
            raise ActionParseError(
                f"field 'decision': expected 'accept', 'reject' or 'outside', got {echo(decision)}"
            )
        if decision != "offer":
            if decision in _JSON_VERDICTS:
                raise ActionParseError(
                    "field 'decision': there is no offer to respond to: you propose now; answer "
                    '{"decision": "offer", "price": <price>}'
                )
            raise ActionParseError(f"field 'decision': expected 'offer', got {echo(decision)}")
        only_fields(data, ("decision", "price", "message"))
        cap = self._cap(observation)
        value = get_field(data, "price", (int, float))
        try:
            price = float(value)
        except OverflowError:  # an integer too large for a float
            price = math.inf
        if not (0.0 <= price <= cap):  # also NaN
            raise ActionParseError(
                f"field 'price': must be from 0 to {exact_amount(cap)}, got {price!r}"
            )
        message = ""
        if observation["messages_allowed"] and data.get("message") is not None:
            message = normalize_text(get_field(data, "message", str), self.message_length)
        return _offer_action(price, message)

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        """Proposer: its own value first (break-even: it cannot lose money), then a grid of
        0.5, 0.6, ..., 1.5 times the money: first the prices that gain it something, least
        demanding first, then those that lose it money, smallest loss first.
        Responder: REJECT (no commitment), OUTSIDE (no trade, for sure), then ACCEPT."""
        mask = observation["decision_mask"]
        if mask[OFFER]:
            labels = _offer_labels(observation, agent)
            return [ValidAction(label, self.parse(label, observation, agent)) for label in labels]
        if mask[ACCEPT]:
            return [
                ValidAction("REJECT", _verdict_action(REJECT, observation)),
                ValidAction("OUTSIDE", _verdict_action(OUTSIDE, observation)),
                ValidAction("ACCEPT", _verdict_action(ACCEPT, observation)),
            ]
        return []

    def describe(self, action: Any, observation: Any, agent: str) -> str:
        """The reply `parse` reads back as ``action`` as the env reads it.

        Proposer: ``OFFER <price>`` whatever the ``decision`` (the env reads every proposer
        action as an offer), the price in plain decimals that read back exactly (`exact_amount`:
        ``OFFER 9500``, ``OFFER 9512.345678901234``), then `` MESSAGE: <text>`` where messages
        are allowed and the message is not blank (as `reply_message` trims it).
        Responder: ``ACCEPT``, ``OUTSIDE``, else ``REJECT`` (the env counts a responder's offer
        as a rejection); responses carry no message. ValueError for an action outside the space
        or a price above the cap.
        """
        name = NAMES[known_agent(agent, AGENTS)]
        decision = operator.index(action["decision"])
        price = float(np.asarray(action["price"], dtype=np.float64).item())
        if not (0 <= decision <= OUTSIDE and 0.0 <= price <= self._cap(observation)):
            raise ValueError(f"{self.name}: {action!r} is not a valid action")
        mask = observation["decision_mask"]
        if mask[ACCEPT]:
            return _VERDICTS.get(decision, "REJECT")
        if not mask[OFFER]:
            raise ValueError(f"{self.name}: it is not the {name}'s turn to decide")
        text = f"OFFER {exact_amount(price)}"
        message = ""
        if observation["messages_allowed"]:
            message = reply_message(action.get("message", ""), self.message_length)
        return f"{text} MESSAGE: {message}" if message else text

    def safe_default(self, observation: Any, agent: str) -> Any:
        """Proposer: an offer at its own value (it cannot lose money, and a trade at it is
        efficient). Responder: REJECT (no trade is never worse than nothing, and the game goes on
        where rounds remain)."""
        if observation["decision_mask"][OFFER]:
            return _offer_action(float(observation["own_value"][0]), "")
        return _verdict_action(REJECT, observation)


def _render_proposal(observation: Any, agent: str, round_: int) -> list[str]:
    other = NAMES[OTHER[agent]]
    lines = []
    if round_ > 1:
        lines.append(f"You rejected the {other}'s offer of {dollars(_on_table(observation))}.")
    own = float(observation["own_value"][0])
    answer = f"Name your price: answer 'OFFER <price>', e.g. '{_label(own)}'."
    if observation["messages_allowed"]:
        answer += f" You may end with 'MESSAGE: <text>' to write to the {other}."
    lines.append(answer)
    return lines


def _render_response(
    observation: Any, agent: str, round_: int, horizon: int, own: float
) -> list[str]:
    other = NAMES[OTHER[agent]]
    price = _on_table(observation)
    gain = price - own if agent == SELLER else own - price
    outcome = f"gain {dollars(gain)}" if gain >= 0 else f"lose {dollars(-gain)}"
    if round_ == horizon:
        after = "If you reject, the game ends without a trade and both of you gain nothing."
    else:
        after = f"If you reject, round {round_ + 1} starts and you name a price."
    elsewhere = "sell elsewhere" if agent == SELLER else "buy elsewhere"
    return [
        f"The {other} offers to trade at {dollars(price)}.",
        f"If you accept, you trade at that price and {outcome}.",
        after,
        f"If you take the outside option, you {elsewhere} at your own value: the game ends "
        "without a trade and you gain nothing.",
        f"Answer {_RESPONSES}.",
    ]


def _offer_labels(observation: Any, agent: str) -> list[str]:
    money = float(observation["money"][0])
    own = float(observation["own_value"][0])
    sign = 1.0 if agent == SELLER else -1.0  # a seller gains from higher prices, a buyer lower
    grid = sorted({money * tenths / 10 for tenths in _GRID_TENTHS}, key=lambda p: sign * p)
    gaining = [price for price in grid if sign * (price - own) > 0]
    losing = [price for price in reversed(grid) if sign * (price - own) < 0]
    labels = [_label(own)]
    for price in gaining + losing:
        label = _label(price)
        if label not in labels:
            labels.append(label)
    return labels


def _on_table(observation: Any) -> float:
    return float(observation["offer"][0])


def _parse_verdict(reply: str, observation: Any, agent: str) -> dict[str, Any]:
    match = _VERDICT.fullmatch(reply)
    if match is None:
        if _OFFER.fullmatch(reply):
            raise ActionParseError(
                f"you are responding to the {NAMES[OTHER[agent]]}'s offer: answer {_RESPONSES} "
                "(after a rejection you name a price next round)"
            )
        raise ActionParseError(f"expected {_RESPONSES}, got {echo(reply)}")
    word = match.group(1)[0].lower()
    decision = ACCEPT if word == "a" else REJECT if word == "r" else OUTSIDE
    return _verdict_action(decision, observation)


def _offer_action(price: float, message: str) -> dict[str, Any]:
    return {"decision": OFFER, "price": np.array([price], dtype=np.float64), "message": message}


def _verdict_action(decision: int, observation: Any) -> dict[str, Any]:
    """A response; its ``price`` repeats the offer on the table (the env ignores it)."""
    price = np.array(observation["offer"], dtype=np.float64)
    return {"decision": decision, "price": price, "message": ""}


def _label(price: float) -> str:
    return f"OFFER {plain_amount(price)}"
