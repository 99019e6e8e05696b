"""Small helpers every text protocol needs: quoting a bad reply in an error, writing money,
checking the agent a protocol is asked about, and reading ``KEY: value`` replies."""

from __future__ import annotations

import re
from collections.abc import Collection
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
