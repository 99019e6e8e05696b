"""The bargaining game's text protocol: 'OFFER alice=<x> bob=<y>' and 'ACCEPT' / 'REJECT'.

Everything a player is told comes from its observation, so the text reveals exactly what the
structured observation does (the other's discount only under complete information, the horizon only
when announced). Players read the history of earlier rounds (each offer, its message and the
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
from envs.games.bargaining_rules import (
    ACCEPT,
    AGENTS,
    ALICE,
    NAMES,
    OFFER,
    OTHER,
    REJECT,
)
from envs.games.bargaining_views import bargaining_view
from envs.games.game_protocol import GameProtocol

_AMOUNT = r"\$?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
_KEYED = re.compile(
    rf"\s*alice\s*[=:]\s*{_AMOUNT}\s*[,;]?\s*bob\s*[=:]\s*{_AMOUNT}\s*"
    rf"|\s*bob\s*[=:]\s*{_AMOUNT}\s*[,;]?\s*alice\s*[=:]\s*{_AMOUNT}\s*",
    re.IGNORECASE,
)
_POSITIONAL = re.compile(rf"\s*{_AMOUNT}(?:\s*[,;/]\s*|\s+){_AMOUNT}\s*", re.IGNORECASE)
_OFFER = re.compile(r"offer\b\s*:?", re.IGNORECASE)
_VERDICT = re.compile(r"(accept|reject)\b", re.IGNORECASE)
_NEXT_AMOUNT = re.compile(rf"(?:or\s+)?{_AMOUNT}", re.IGNORECASE)
_KEYED_AMOUNT = re.compile(r"\b(?:alice|bob)\s*[=:]\s*\$?\s*\d", re.IGNORECASE)
_OFFER_COMMAND = re.compile(r"\bOFFER\b")
_OFFER_FORMAT = "'OFFER alice=<amount> bob=<amount>' (or 'OFFER <alice amount> <bob amount>')"
_VERDICTS = {ACCEPT: "accept", REJECT: "reject"}
_ALICE_SHARES = tuple(tenths / 10 for tenths in range(11))


class BargainingProtocol(GameProtocol):
    """Text for `envs.games.bargaining`; replies are case-insensitive.

    Proposers answer ``OFFER alice=<x> bob=<y>`` or ``OFFER <x> <y>`` (amounts of money summing
    to the total within a cent plus a millionth of it; ``$`` and thousands commas allowed).
    Responders answer ``ACCEPT`` or ``REJECT``. Text may follow the command after a space or
    punctuation (``ACCEPT. Fair offer.``): where messages are allowed, the text after an offer
    is its message (after a ``MESSAGE:`` marker if there is one, else all of it); text after a
    response is dropped (responses carry no message). A reply whose text names another answer
    (``ACCEPT or REJECT``, ``OFFER 6000 4000 or 5000 5000``) is ambiguous and rejected.
    ``message_length`` bounds parsed messages, as the env's action space does.

    Structured replies (`reply_schema`) are JSON objects. A proposer answers
    ``{"decision": "offer", "<me>_gets": <amount>}``, where ``<me>`` is its own name (``alice_gets``
    for Alice, ``bob_gets`` for Bob), the money it keeps, from 0 to the total; the other gets the
    rest, so every amount in range is a valid split. Where messages are allowed the object also has
    ``"message": "<text>"`` ("" for none). A responder answers ``{"decision": "accept"}`` or
    ``{"decision": "reject"}``. `parse` also reads the other player's amount instead
    (``alice_gets`` from Bob), or both amounts if they sum to the total as in the command text;
    a message where messages are not allowed, or in a response, is dropped, and one longer than
    ``message_length`` is cut to it.
    """

    name = "bargaining"
    agents = AGENTS
    command_tokens = 32
    """The longest command reply with room to spare: the bundled model's tokenizer reads digits
    one by one, so an offer of two amounts to the cent at GLEE's largest sum (10^6) takes about
    25 tokens, as does its JSON form with a message field."""

    def instructions(self, agent: str) -> str:
        me, other = NAMES[known_agent(agent, AGENTS)], NAMES[OTHER[agent]]
        return (
            f"You are {me}, bargaining with {other} over how to split a sum of money.\n"
            "Rules:\n"
            "- Alice proposes a split in odd rounds (1, 3, ...), Bob in even rounds; the other "
            "player accepts or rejects it.\n"
            "- An accepted offer ends the game with that split. After a rejection the next round "
            "starts and the roles swap.\n"
            "- A player with discount factor d values money received in round t at d^(t-1) of "
            "its face value (at d = 1, waiting costs nothing).\n"
            "- If a last round is announced and its offer is rejected, the game ends and both "
            "players get nothing.\n"
            "- Each turn tells you the sum, your discount factor, the other player's if you know "
            "it, the last round if it is announced, and the offers and messages of the "
            "earlier rounds.\n"
            "Your goal: maximise the discounted value of the money you receive.\n"
            "Answer formats (start your answer with the command):\n"
            f"- To propose: {_OFFER_FORMAT}, with amounts summing to the total; '$' and commas "
            "are fine.\n"
            "- To respond: 'ACCEPT' or 'REJECT'.\n"
            f"Where messages are allowed, text after your offer is sent to {other} as your "
            "message (you may mark it 'MESSAGE: <text>'); text after a response is not sent."
        )

    def render(self, observation: Any, agent: str) -> str:
        return bargaining_view(observation, agent)

    def render_end(
        self, observation: Any, agent: str, metrics: Mapping[str, Any], truncated: bool
    ) -> str | None:
        """The split both players saw agreed (face values), or that no offer was accepted."""
        round_ = int(metrics.get("round") or observation["round"])
        if truncated:
            return f"The game was stopped after round {round_} without an accepted offer."
        if not metrics.get("deal"):
            return f"The offer of the last round (round {round_}) was rejected: no deal."
        money = float(observation["money"][0])
        alice = money * float(metrics["alice_share"])
        return (
            f"An offer was accepted in round {round_}: Alice gets {dollars(alice)} and Bob "
            f"gets {dollars(money - alice)} (face value)."
        )

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        data = json_object(text)
        if data is not None:
            return self._parse_json(data, observation, agent)
        reply = text.strip(REPLY_WRAPPING)
        mask = observation["decision_mask"]
        if mask[OFFER]:
            return self._parse_offer(reply, observation, agent)
        if mask[ACCEPT]:
            return _parse_verdict(reply, observation, agent)
        raise ActionParseError(f"it is not {NAMES[known_agent(agent, AGENTS)]}'s turn to decide")

    def with_explanation(self, action: Any, explanation: str, observation: Any, agent: str) -> Any:
        """``action`` with the text that followed it: rejected when the text names another
        answer, kept as an offer's message where messages are allowed (and the offer has none),
        dropped after a response."""
        if operator.index(action["decision"]) == OFFER:
            return self._explained_offer(action, explanation, observation)
        return _explained_verdict(action, explanation, agent)

    def _parse_offer(self, reply: str, observation: Any, agent: str) -> dict[str, Any]:
        money = float(observation["money"][0])
        expected = f"{_OFFER_FORMAT} with amounts summing to {plain_amount(money)}"
        head = _OFFER.match(reply)
        if head is None and leading_command(reply, _VERDICT):
            raise ActionParseError(
                f"there is no offer to accept or reject: you propose now; answer {expected}"
            )
        found = _amounts(reply[head.end() :]) if head else None
        if found is None:
            raise ActionParseError(f"expected {expected}, got {echo(reply)}")
        alice, bob, rest = found
        total = alice + bob
        if total <= 0.0 or abs(total - money) > 0.01 + 1e-6 * money:
            raise ActionParseError(
                f"the amounts must sum to {plain_amount(money)}: alice={plain_amount(alice)} + "
                f"bob={plain_amount(bob)} = {plain_amount(total)}"
            )
        return self._explained_offer(_offer_action(alice / total, ""), rest, observation)

    def _explained_offer(
        self, action: dict[str, Any], rest: str, observation: Any
    ) -> dict[str, Any]:
        """An offer with the text after its amounts: its message (marked or not) where messages
        are allowed and it has none yet; ActionParseError when the text names another split."""
        explanation, marked = split_message(rest)
        if _names_another_split(explanation):
            raise ActionParseError(
                f"one offer at a time: the text after your offer names another split "
                f"({echo(explanation)}); answer {_OFFER_FORMAT}, then your message if any"
            )
        return self.with_offer_message(action, explanation, marked, observation)

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any] | None:
        """Proposer: ``{"decision": "offer", "<me>_gets": 0..money}`` (plus ``"message"`` where
        messages are allowed). Responder: ``{"decision": "accept" | "reject"}``. None when it is
        not ``agent``'s turn (there is nothing to reply)."""
        mask = observation["decision_mask"]
        if mask[OFFER]:
            properties = {
                "decision": const("offer"),
                _gets(known_agent(agent, AGENTS)): number(0.0, float(observation["money"][0])),
            }
            if observation["messages_allowed"]:
                properties["message"] = free_text(self.message_length)
            return obj(properties)
        if mask[ACCEPT]:
            return obj({"decision": choice(["accept", "reject"])})
        return None

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        """``action`` as the env reads it, in the form of `reply_schema`.

        Proposer: an offer whatever its ``decision``, with the amount it keeps chosen so that
        `parse` gives back its share exactly where a float amount allows (else within float64
        rounding, 2^-52: amounts can be coarser than shares), and its message where messages are
        allowed (normalised as the env stores it). Responder: ``accept``, else ``reject`` (the env
        counts a responder's offer as a rejection). ValueError for an action outside the space or
        when it is not ``agent``'s turn.
        """
        name = NAMES[known_agent(agent, AGENTS)]
        decision = operator.index(action["decision"])
        share = float(np.asarray(action["alice_share"], dtype=np.float64).item())
        if not (0 <= decision <= REJECT and 0.0 <= share <= 1.0):
            raise ValueError(f"{self.name}: {action!r} is not a valid action")
        mask = observation["decision_mask"]
        if mask[ACCEPT]:
            return {"decision": "accept" if decision == ACCEPT else "reject"}
        if not mask[OFFER]:
            raise ValueError(f"{self.name}: it is not {name}'s turn to decide")
        money = float(observation["money"][0])
        data: dict[str, Any] = {
            "decision": "offer",
            _gets(agent): _kept_amount(share, money, agent == ALICE),
        }
        if observation["messages_allowed"]:
            data["message"] = normalize_text(action.get("message", ""), self.message_length)
        return data

    def _parse_json(self, data: dict[str, Any], observation: Any, agent: str) -> dict[str, Any]:
        name = NAMES[known_agent(agent, AGENTS)]
        mask = observation["decision_mask"]
        if not (mask[OFFER] or mask[ACCEPT]):
            raise ActionParseError(f"it is not {name}'s turn to decide")
        decision = get_field(data, "decision", str).strip().lower()
        if not mask[OFFER]:
            if decision in ("accept", "reject"):
                only_fields(data, ("decision", "message"))
                return _verdict_action(ACCEPT if decision == "accept" else REJECT, observation)
            if decision == "offer":
                raise ActionParseError(
                    f"field 'decision': you are responding to {NAMES[OTHER[agent]]}'s offer, "
                    "answer 'accept' or 'reject' (after a rejection you propose next round)"
                )
            raise ActionParseError(
                f"field 'decision': expected 'accept' or 'reject', got {echo(decision)}"
            )
        mine = _gets(agent)
        if decision != "offer":
            if decision in ("accept", "reject"):
                raise ActionParseError(
                    "field 'decision': there is no offer to accept or reject: you propose now; "
                    f'answer {{"decision": "offer", "{mine}": <amount>}}'
                )
            raise ActionParseError(f"field 'decision': expected 'offer', got {echo(decision)}")
        only_fields(data, ("decision", "alice_gets", "bob_gets", "message"))
        money = float(observation["money"][0])
        amounts = {
            key: _json_amount(data, key, money) for key in ("alice_gets", "bob_gets") if key in data
        }
        if not amounts:
            raise ActionParseError(f"the JSON reply needs the field {mine!r}")
        if len(amounts) == 2:
            total = amounts["alice_gets"] + amounts["bob_gets"]
            if total <= 0.0 or abs(total - money) > 0.01 + 1e-6 * money:
                raise ActionParseError(
                    f"fields 'alice_gets' and 'bob_gets' must sum to {plain_amount(money)}, got "
                    f"{plain_amount(total)} (give only {mine!r}: the other gets the rest)"
                )
            alice_share = amounts["alice_gets"] / total
        elif "alice_gets" in amounts:
            alice_share = amounts["alice_gets"] / money
        else:
            alice_share = (money - amounts["bob_gets"]) / money
        message = ""
        if observation["messages_allowed"]:
            message = _json_message(data, self.message_length)
        return _offer_action(alice_share, message)

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        """Proposer: offers giving it 0%, 10%, ..., 100% (least demanding first).
        Responder: REJECT, then ACCEPT."""
        mask = observation["decision_mask"]
        if mask[OFFER]:
            money = float(observation["money"][0])
            # Least demanding first: ascending in the proposer's own share.
            alice_shares = (
                _ALICE_SHARES if known_agent(agent, AGENTS) == ALICE else _ALICE_SHARES[::-1]
            )
            labels = [_label(money * share, money - money * share) for share in alice_shares]
            return [ValidAction(label, self.parse(label, observation, agent)) for label in labels]
        if mask[ACCEPT]:
            return [
                ValidAction("REJECT", _verdict_action(REJECT, observation)),
                ValidAction("ACCEPT", _verdict_action(ACCEPT, observation)),
            ]
        return []

    def describe(self, action: Any, observation: Any, agent: str) -> str:
        """The reply `parse` reads back as ``action`` as the env reads it.

        Proposer: ``OFFER alice=<x> bob=<y>`` whatever the ``decision`` (the env reads every
        proposer action as an offer), then `` MESSAGE: <text>`` where messages are allowed and
        the message is not blank (as `reply_message` trims it). The amounts are written as a person
        would, to the cent at most (fewer decimals where they give the share back as closely),
        so the share read back is within a cent of the money of the action's.
        Responder: ``ACCEPT``, else ``REJECT`` (the env counts a responder's offer as a
        rejection); responses carry no message. ValueError for an action outside the space.
        """
        name = NAMES[known_agent(agent, AGENTS)]
        decision = operator.index(action["decision"])
        share = float(np.asarray(action["alice_share"], dtype=np.float64).item())
        if not (0 <= decision <= REJECT and 0.0 <= share <= 1.0):
            raise ValueError(f"{self.name}: {action!r} is not a valid action")
        mask = observation["decision_mask"]
        if mask[ACCEPT]:
            return "ACCEPT" if decision == ACCEPT else "REJECT"
        if not mask[OFFER]:
            raise ValueError(f"{self.name}: it is not {name}'s turn to decide")
        text = self._offer_text(share, observation, agent)
        message = ""
        if observation["messages_allowed"]:
            message = reply_message(action.get("message", ""), self.message_length)
        return f"{text} MESSAGE: {message}" if message else text

    def _offer_text(self, share: float, observation: Any, agent: str) -> str:
        """``OFFER alice=<x> bob=<y>`` in whole dollars, dimes or cents: the fewest decimals whose
        share is as close as full precision's, else cents."""
        money = float(observation["money"][0])
        alice = money * share + 0.0

        def error(label: str) -> float:
            try:
                parsed = self._parse_offer(label, observation, agent)["alice_share"][0]
            except ActionParseError:
                return float("inf")
            return abs(parsed - share)

        exact = _label_exact(exact_amount(alice), exact_amount(money - alice))
        target = error(exact)
        for decimals in range(3):
            alice_text = _fixed(alice, decimals)
            label = _label_exact(alice_text, _fixed(money - float(alice_text), decimals))
            if label == exact or error(label) <= target:
                return label
        return label

    def safe_default(self, observation: Any, agent: str) -> Any:
        """Proposer: an even split. Responder: REJECT (no deal is never worse than nothing)."""
        if observation["decision_mask"][OFFER]:
            return _offer_action(0.5, "")
        return _verdict_action(REJECT, observation)


def _amounts(body: str) -> tuple[float, float, str] | None:
    """(alice, bob, rest): the amounts an offer's body starts with, in one of the formats, and
    the text after them; None when it starts with neither format."""
    keyed = leading_command(body, _KEYED)
    if keyed is not None:
        a1, b1, b2, a2 = keyed[0].groups()
        return _number(a1 or a2), _number(b1 or b2), keyed[1]
    positional = leading_command(body, _POSITIONAL)
    if positional is not None:
        return _number(positional[0].group(1)), _number(positional[0].group(2)), positional[1]
    return None


def _names_another_split(explanation: str) -> bool:
    """Whether the text after an offer's amounts names another split: it starts with an amount
    ("OFFER 6000 4000 or 5000 5000"), or names an amount for alice or bob, or writes OFFER."""
    return bool(
        leading_command(explanation, _NEXT_AMOUNT)
        or _KEYED_AMOUNT.search(explanation)
        or _OFFER_COMMAND.search(explanation)
    )


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _gets(agent: str) -> str:
    """The JSON field of the amount ``agent`` gets: ``alice_gets`` or ``bob_gets``."""
    return f"{NAMES[agent].lower()}_gets"


def _kept_amount(share: float, money: float, is_alice: bool) -> float:
    """The amount the proposer keeps at Alice share ``share``: the float nearest the exact amount
    whose `_parse_json` reading gives back ``share`` exactly if one lies within a few ulps, else
    that nearest float (its reading is then off by float64 rounding only)."""

    def read(amount: float) -> float:
        share_read = amount / money if is_alice else (money - amount) / money
        return min(max(share_read, 0.0), 1.0)

    start = money * share if is_alice else money - money * share
    start = min(max(start, 0.0), money)
    below = above = start
    for _ in range(16):
        for amount in (below, above):
            if read(amount) == share:
                return amount + 0.0
        below = max(math.nextafter(below, -math.inf), 0.0)
        above = min(math.nextafter(above, math.inf), money)
    return start + 0.0


def _json_amount(data: dict[str, Any], key: str, money: float) -> float:
    value = get_field(data, key, (int, float))
    try:
        amount = float(value)
    except OverflowError:  # an integer too large for a float
        amount = math.inf
    if not (0.0 <= amount <= money):  # also NaN
        raise ActionParseError(
            f"field {key!r}: must be from 0 to {exact_amount(money)}, got {amount!r}"
        )
    return amount


def _json_message(data: dict[str, Any], max_length: int) -> str:
    if data.get("message") is None:
        return ""
    return normalize_text(get_field(data, "message", str), max_length)


def _parse_verdict(reply: str, observation: Any, agent: str) -> dict[str, Any]:
    found = leading_command(reply, _VERDICT)
    if found is None:
        if _OFFER.match(reply):
            raise ActionParseError(
                f"you are responding to {NAMES[OTHER[agent]]}'s offer: answer 'ACCEPT' or "
                "'REJECT' (after a rejection you propose next round)"
            )
        raise ActionParseError(f"expected 'ACCEPT' or 'REJECT', got {echo(reply)}")
    match, rest = found
    decision = ACCEPT if match.group(1).lower() == "accept" else REJECT
    return _explained_verdict(_verdict_action(decision, observation), rest, agent)


def _explained_verdict(action: dict[str, Any], rest: str, agent: str) -> dict[str, Any]:
    """A response whose following text is dropped (responses carry no message); ActionParseError
    when that text names the other response."""
    chosen = operator.index(action["decision"])
    other = _VERDICTS[REJECT if chosen == ACCEPT else ACCEPT]
    explanation, _ = split_message(rest)
    if names_another(explanation, [other]):
        raise ActionParseError(
            f"your answer names both 'ACCEPT' and 'REJECT' ({echo(explanation)} follows "
            f"{_VERDICTS[chosen].upper()}); answer one of them to {NAMES[OTHER[agent]]}'s offer"
        )
    return action


def _offer_action(alice_share: float, message: str) -> dict[str, Any]:
    share = np.array([min(max(alice_share, 0.0), 1.0)], dtype=np.float64)
    return {"decision": OFFER, "alice_share": share, "message": message}


def _verdict_action(decision: int, observation: Any) -> dict[str, Any]:
    """A response; its ``alice_share`` repeats the offer on the table (the env ignores it)."""
    share = np.array(observation["offer"], dtype=np.float64)
    return {"decision": decision, "alice_share": share, "message": ""}


def _label(alice: float, bob: float) -> str:
    return _label_exact(plain_amount(alice), plain_amount(bob))


def _label_exact(alice: str, bob: str) -> str:
    return f"OFFER alice={alice} bob={bob}"


def _fixed(amount: float, decimals: int) -> str:
    """``amount`` rounded to ``decimals`` places, without trailing zeros."""
    text = f"{amount:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
