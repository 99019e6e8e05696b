"""Small helpers every text protocol needs: quoting a bad reply in an error, writing money,
checking the agent a protocol is asked about, reading ``KEY: value`` replies, and remembering
text written from observation fields an env shares (`Memo`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Any

from envs.core.spaces import normalize_text

REPLY_WRAPPING = "`'\" \t\n"
"""Stripped from both ends of a reply before parsing (models like to quote their answers)."""

ECHO_LENGTH = 80


def echo(text: str) -> str:
    """A reply quoted for an error message, cut to `ECHO_LENGTH` characters."""
    return repr(text if len(text) <= ECHO_LENGTH else text[:ECHO_LENGTH] + "...")


def plain_amount(amount: float) -> str:
    """An amount to the cent without trailing zeros, for answer formats: 3000, 30.15."""
    return f"{amount:.2f}".rstrip("0").rstrip(".")


def dollars(amount: float) -> str:
    """An amount as people read it: $10,000, $30.15."""
    text = f"${amount:,.2f}"
    return text[:-3] if text.endswith(".00") else text


def known_agent(agent: str, agents: Collection[str]) -> str:
    """``agent`` itself, or a ValueError naming the agents the protocol knows."""
    if agent not in agents:
        raise ValueError(f"unknown agent {agent!r}; expected one of {list(agents)}")
    return agent


def keyed_fields(text: str, key: re.Pattern[str], strip: str = " \n;,.") -> dict[str, str]:
    """``KEY: value`` fields of a reply, keys found by ``key`` (its group 1 is the key name): each
    value runs to the next key, trimmed of ``strip``; the first occurrence of a key wins."""
    found = list(key.finditer(text))
    fields: dict[str, str] = {}
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        fields.setdefault(match.group(1).upper(), text[match.end() : end].strip(strip))
    return fields


def exact_amount(amount: float) -> str:
    """``amount`` in plain decimal notation (no exponent, no trailing zeros) with the fewest digits
    that read back as exactly the same float: 9500, 0.1, 1234.5678901234567."""
    text = format(Decimal(repr(float(amount) + 0.0)), "f")  # + 0.0: no "-0"
    return text.rstrip("0").rstrip(".") if "." in text else text


def reply_message(message: Any, max_length: int) -> str:
    """``message`` as a reply's ``MESSAGE: <text>`` can carry it: normalised as envs store it
    (`normalize_text`), then trimmed of what parsing drops at its ends (whitespace, and the
    quote marks `REPLY_WRAPPING` strips from a reply's end)."""
    text = normalize_text(message, max_length)
    while (trimmed := text.rstrip(REPLY_WRAPPING).strip()) != text:
        text = trimmed
    return text


COMMAND_STOPS = ("\n\n", "\nUser:", "\nRound ")
"""Stop sequences of a command reply (a command, then a short message or explanation): a blank
line, or the start of another turn (a chat role, or a game state's opening "Round N")."""

MESSAGE_TOKENS = 64
"""Reply-budget room for the free text after a command: a message of a few sentences."""

_BREAK = " \t\r\n.!?,;:()-\u2013\u2014"
_MESSAGE_MARK = re.compile(r"\bmessage\s*:", re.IGNORECASE)


def leading_command(reply: str, command: re.Pattern[str]) -> tuple[re.Match[str], str] | None:
    """``command`` matched at the start of ``reply`` and the text after it (its separating spaces
    and punctuation trimmed: "ACCEPT. Fair offer." gives "Fair offer."), or None when the reply
    does not start with it or it runs on into other text ("ACCEPT/REJECT", "60%")."""
    match = command.match(reply)
    if match is None:
        return None
    rest = reply[match.end() :]
    if rest and rest[0] not in _BREAK and not reply[match.end() - 1].isspace():
        return None
    return match, rest.lstrip(_BREAK)


def split_message(rest: str) -> tuple[str, str | None]:
    """The text after a command as (explanation, message): what comes before and after a
    ``MESSAGE:`` marker; the message is None without a marker."""
    parts = _MESSAGE_MARK.split(rest, maxsplit=1)
    if len(parts) == 1:
        return rest.strip(), None
    return parts[0].strip(), parts[1].strip()


def names_another(explanation: str, others: Collection[str]) -> str | None:
    """The first of ``others`` (commands other than the one a reply starts with) that the
    explanation after that command names, which makes the reply ambiguous; None if none.

    An explanation names a command when that command is its first clause, maybe after "or" or
    "and" ("ACCEPT or reject", "BUY, PASS."), or when it writes the command in capitals anywhere,
    as commands are written ("REJECT. Actually ACCEPT."). Lower-case mentions inside a sentence
    are explanation ("REJECT. I cannot accept less than half.").
    """
    for other in others:
        words = other.split()
        spaced = r"\s+".join(re.escape(word) for word in words)
        capitals = r"\s+".join(re.escape(word.upper()) for word in words)
        if re.match(rf"(?:(?:or|and)\s+)?{spaced}\s*(?:[.!?,;]|$)", explanation, re.IGNORECASE):
            return other
        if re.search(rf"\b{capitals}\b", explanation):
            return other
    return None


class Memo:
    """Text written from observation fields that an env shares, unchanged, between the
    observations that show them (a search page, a menu, a user's tastes): kept by the identity
    of one such field, ``key``, so each is written once. Envs that share a field this way never
    write into it (it is read-only), so the same object means the same text."""

    def __init__(self, write: Callable[..., Any], key: str, size: int = 4096) -> None:
        self.write = write
        self.key = key
        self.size = size
        self._kept: dict[int, tuple[Any, Any]] = {}

    def __call__(self, observation: Mapping[str, Any], *args: Any) -> Any:
        key = observation[self.key]
        kept = self._kept.get(id(key))
        if kept is not None and kept[0] is key:
            return kept[1]
        text = self.write(observation, *args)
        if len(self._kept) >= self.size:
            self._kept.clear()
        self._kept[id(key)] = (key, text)  # holds the key, so its id is not reused meanwhile
        return text
