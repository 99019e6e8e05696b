"""The negotiation game's text protocol: 'OFFER <price>' and 'ACCEPT' / 'REJECT' / 'OUTSIDE'.

Everything a player is told comes from its observation, so the text reveals exactly what the
structured observation does (the other's value only under complete information, the horizon only
when announced). Players read the history of earlier rounds (each price offered, its message and the
rejection), as GLEE's players did, up to the latest `envs.games.two_player.HISTORY_SHOWN` rounds.
The answer format is stated once, in `instructions`; `render` names only what the player may do now.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.core.protocol import ActionParseError, ValidAction
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
    leading_command,
    names_another,
    plain_amount,
    reply_message,
    split_message,
)
from envs.games.game_protocol import GameProtocol
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
from envs.games.two_player import shown_rounds

_AMOUNT = re.compile(r"\$?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)")
_NEXT_AMOUNT = re.compile(rf"(?:or\s+)?{_AMOUNT.pattern}", re.IGNORECASE)
_OFFER = re.compile(r"offer\b\s*:?\s*", re.IGNORECASE)
_OFFER_COMMAND = re.compile(r"\bOFFER\b")
_VERDICT = re.compile(r"(accept|reject|outside(?:\s+option)?|walk\s+away)\b", re.IGNORECASE)
_RESPONSES = "'ACCEPT', 'REJECT' or 'OUTSIDE'"
_VERDICTS = {ACCEPT: "ACCEPT", OUTSIDE: "OUTSIDE"}  # any other response is a rejection
_VERDICT_NAMES = {ACCEPT: ("accept",), REJECT: ("reject",), OUTSIDE: ("outside", "walk away")}
"""The words of each response, for telling when the text after one names another."""
_JSON_VERDICTS = {"accept": ACCEPT, "reject": REJECT, "outside": OUTSIDE}
_GRID_TENTHS = range(5, 16)  # valid_actions' price grid: 0.5, 0.6, ..., 1.5 times the money


class NegotiationProtocol(GameProtocol):
    """Text for `envs.games.negotiation`; replies are case-insensitive.

    Proposers answer ``OFFER <price>`` (an amount of money from 0 to the price cap; ``$`` and
    thousands commas allowed). Responders answer ``ACCEPT``, ``REJECT`` or ``OUTSIDE`` (also
    ``OUTSIDE OPTION`` or ``WALK AWAY``). Text may follow the command after a space or
    punctuation (``ACCEPT. Fair price.``): where messages are allowed, the text after an offer is
    its message (after a ``MESSAGE:`` marker if there is one, else all of it); text after a
    response is dropped (responses carry no message). A reply whose text names another answer
    (``ACCEPT or REJECT``, ``OFFER 9500 or 9000``) is ambiguous and rejected.

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
    agents = AGENTS
    command_tokens = 32
    """The longest command reply with room to spare: the bundled model's tokenizer reads digits
    one by one, so an offer at a price of 17 significant digits takes about 20 tokens, its JSON
    form with a message field about 30."""

    def __init__(self, message_length: int = 500, price_cap: float | None = None) -> None:
        super().__init__(message_length)
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
            "- Each turn tells you your value of the good, the other player's if you know it, "
            "the last round if it is announced, and the offers and messages of earlier rounds.\n"
            f"Your goal: {goal}.\n"
            "Answer formats (start your answer with the command):\n"
            "- To propose: 'OFFER <price>', e.g. 'OFFER 9500'; '$' and commas are fine.\n"
            f"- To respond: {_RESPONSES}.\n"
            f"Where messages are allowed, text after your offer is sent to the {other} as your "
            "message (you may mark it 'MESSAGE: <text>'); text after a response is not sent."
        )

    def render_end(
        self, observation: Any, agent: str, metrics: Mapping[str, Any], truncated: bool
    ) -> str | None:
        """The price both players saw agreed, or how the game ended without a trade."""
        round_ = int(metrics.get("round") or observation["round"])
        if truncated:
            return f"The game was stopped after round {round_} without a trade."
        if metrics.get("trade"):
            price = dollars(float(metrics["price"]))
            return f"An offer was accepted in round {round_}: the trade is at {price}."
        if metrics.get("outside_option"):
            return f"A player took the outside option in round {round_}: no trade."
        return f"The offer of the last round (round {round_}) was rejected: no trade."

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
        lines.extend(_render_history(observation, agent, round_))
        mask = observation["decision_mask"]
        if mask[OFFER]:
            lines.extend(_render_proposal(observation, agent))
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

    def with_explanation(self, action: Any, explanation: str, observation: Any, agent: str) -> Any:
        """``action`` with the text that followed it: rejected when the text names another
        answer, kept as an offer's message where messages are allowed (and the offer has none),
        dropped after a response."""
        if operator.index(action["decision"]) == OFFER:
            return self._explained_offer(action, explanation, observation)
        return _explained_verdict(action, explanation, agent)

    def _cap(self, observation: Any) -> float:
        if self.price_cap is not None:
            return self.price_cap
        return PRICE_CAP_MONEY * float(observation["money"][0])

    def _parse_offer(self, reply: str, observation: Any) -> dict[str, Any]:
        cap = self._cap(observation)
        expected = f"'OFFER <price>' with a price from 0 to {plain_amount(cap)}"
        head = _OFFER.match(reply)
        if head is None and leading_command(reply, _VERDICT):
            raise ActionParseError(
                f"there is no offer to respond to: you propose now; answer {expected}"
            )
        found = leading_command(reply[head.end() :], _AMOUNT) if head else None
        if found is None or leading_command(found[1], _NEXT_AMOUNT):
            raise ActionParseError(f"expected {expected}, got {echo(reply)}")
        amount, rest = found
        price = float(amount.group(1).replace(",", ""))
        if price > cap:
            raise ActionParseError(
                f"the price must be at most {plain_amount(cap)}, got {plain_amount(price)}"
            )
        return self._explained_offer(_offer_action(price, ""), rest, observation)

    def _explained_offer(
        self, action: dict[str, Any], rest: str, observation: Any
    ) -> dict[str, Any]:
        """An offer with the text after its price: its message (marked or not) where messages
        are allowed and it has none yet; ActionParseError when the text names another price."""
        explanation, marked = split_message(rest)
        if leading_command(explanation, _NEXT_AMOUNT) or _OFFER_COMMAND.search(explanation):
            raise ActionParseError(
                f"one offer at a time: the text after your offer names another price "
                f"({echo(explanation)}); answer 'OFFER <price>', then your message if any"
            )
        return self.with_offer_message(action, explanation, marked, observation)

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


def _render_history(observation: Any, agent: str, round_: int) -> list[str]:
    """The earlier rounds, each a price (with its message) that was rejected: the latest
    `HISTORY_SHOWN` of them (`shown_rounds`), oldest first."""
    if round_ == 1:
        return []
    rounds, heading = shown_rounds(round_ - 1)
    offers, messages = observation["offers"], observation["offer_messages"]
    other = NAMES[OTHER[agent]]
    lines = [heading]
    for past in rounds:
        mine = (past % 2 == 1) == (agent == SELLER)  # the seller offers in odd rounds
        offerer, responder = ("you", f"the {other}") if mine else (f"the {other}", "you")
        price = dollars(float(offers[past - 1]))
        line = f"- Round {past}: {offerer} offered {price}; {responder} rejected it."
        if messages[past - 1]:
            whose = "Your" if mine else f"The {other}'s"
            line += f" {whose} message: {messages[past - 1]!r}"
        lines.append(line)
    return lines


def _render_proposal(observation: Any, agent: str) -> list[str]:
    """What to do now (the rejected offers are in the history)."""
    ask = "Name your price."
    if observation["messages_allowed"]:
        ask += f" You may add a message to the {NAMES[OTHER[agent]]}."
    return [ask]


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
        *_message_line(observation, other),
        f"If you accept, you trade at that price and {outcome}.",
        after,
        f"If you take the outside option, you {elsewhere} at your own value: the game ends "
        "without a trade and you gain nothing.",
        "Accept, reject or take the outside option.",
    ]


def _message_line(observation: Any, other: str) -> list[str]:
    message = observation["last_message"]
    return [f"The {other}'s message: {message!r}"] if message else []


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
    found = leading_command(reply, _VERDICT)
    if found is None:
        if _OFFER.match(reply):
            raise ActionParseError(
                f"you are responding to the {NAMES[OTHER[agent]]}'s offer: answer {_RESPONSES} "
                "(after a rejection you name a price next round)"
            )
        raise ActionParseError(f"expected {_RESPONSES}, got {echo(reply)}")
    match, rest = found
    word = match.group(1)[0].lower()
    decision = ACCEPT if word == "a" else REJECT if word == "r" else OUTSIDE
    return _explained_verdict(_verdict_action(decision, observation), rest, agent)


def _explained_verdict(action: dict[str, Any], rest: str, agent: str) -> dict[str, Any]:
    """A response whose following text is dropped (responses carry no message); ActionParseError
    when that text names another response."""
    chosen = operator.index(action["decision"])
    others = [
        word for decision, words in _VERDICT_NAMES.items() if decision != chosen for word in words
    ]
    explanation, _ = split_message(rest)
    named = names_another(explanation, others)
    if named:
        raise ActionParseError(
            f"your answer names two responses ({echo(explanation)} follows "
            f"{_VERDICTS.get(chosen, 'REJECT')}, naming {named.upper()}); answer one of "
            f"{_RESPONSES} to the {NAMES[OTHER[agent]]}'s offer"
        )
    return action


def _offer_action(price: float, message: str) -> dict[str, Any]:
    return {"decision": OFFER, "price": np.array([price], dtype=np.float64), "message": message}


def _verdict_action(decision: int, observation: Any) -> dict[str, Any]:
    """A response; its ``price`` repeats the offer on the table (the env ignores it)."""
    price = np.array(observation["offer"], dtype=np.float64)
    return {"decision": decision, "price": price, "message": ""}


def _label(price: float) -> str:
    return f"OFFER {plain_amount(price)}"
