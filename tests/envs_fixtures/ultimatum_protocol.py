"""The ultimatum game's text protocol: 'OFFER <n> [MESSAGE: ...]' and 'ACCEPT' / 'REJECT'."""

from __future__ import annotations

import re
from typing import Any

from envs.core.protocol import ActionParseError, TextProtocol, ValidAction, action_mask_of
from envs.core.spaces import normalize_text
from tests.envs_fixtures.ultimatum import (
    ACCEPT,
    MAX_OFFER,
    MESSAGE_LENGTH,
    PROPOSER,
    REJECT,
    RESPONDER,
    raw_env,
)

_OFFER_FORMAT = f"'OFFER <n>' with n an integer 0-{MAX_OFFER}"
_OFFER_PATTERN = re.compile(r"offer\s+(\S+)(?:\s+message:\s*(.*))?", re.IGNORECASE | re.DOTALL)
_INTEGER = re.compile(r"[+-]?\d+")
_VERDICTS = {"REJECT": REJECT, "ACCEPT": ACCEPT}
_ECHO_LENGTH = 80


class UltimatumProtocol(TextProtocol):
    """Text for `tests.envs_fixtures.ultimatum`; replies are case-insensitive."""

    name = "ultimatum"

    def instructions(self, agent: str) -> str:
        if _is_proposer(agent):
            return (
                "You are the proposer in an ultimatum game. You split a pie with a responder: "
                f"offer them n tenths (0-{MAX_OFFER}) and keep the rest. If they accept, the pie "
                "is split as offered; if they reject, both of you get nothing.\n"
                "Answer 'OFFER <n>', optionally followed by 'MESSAGE: <text>' for the "
                "responder, e.g. 'OFFER 4 MESSAGE: a fair split?'."
            )
        return (
            "You are the responder in an ultimatum game. The proposer offers you a share of a "
            "pie. If you accept, the pie is split as offered; if you reject, both of you get "
            "nothing.\nAnswer 'ACCEPT' or 'REJECT'."
        )

    def render(self, observation: Any, agent: str) -> str:
        pie = float(observation["pie"][0])
        if _is_proposer(agent):
            return f"The pie is worth {pie:g}. How many tenths (0-{MAX_OFFER}) do you offer?"
        offer = int(observation["offer"])
        lines = [
            f"The pie is worth {pie:g}. The proposer offers you {offer}/{MAX_OFFER} "
            f"({pie * offer / MAX_OFFER:g}) and keeps {MAX_OFFER - offer}/{MAX_OFFER}."
        ]
        if observation["last_message"]:
            lines.append(f"Their message: {observation['last_message']!r}")
        lines.append("Do you ACCEPT or REJECT?")
        return "\n".join(lines)

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        if _is_proposer(agent):
            return _parse_offer(text.strip())
        return _parse_verdict(text.strip(), observation)

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        if _is_proposer(agent):
            return [
                ValidAction(f"OFFER {n}", {"offer": n, "message": ""}) for n in range(MAX_OFFER + 1)
            ]
        mask = action_mask_of(observation)
        return [
            ValidAction(label, action)
            for label, action in _VERDICTS.items()
            if mask is None or mask[action]
        ]

    def safe_default(self, observation: Any, agent: str) -> Any:
        """Proposer: an even split (``OFFER 5``). Responder: ``REJECT``."""
        if _is_proposer(agent):
            return {"offer": MAX_OFFER // 2, "message": ""}
        return super().safe_default(observation, agent)


def _is_proposer(agent: str) -> bool:
    if agent not in (PROPOSER, RESPONDER):
        raise ValueError(f"unknown agent {agent!r}; expected {PROPOSER!r} or {RESPONDER!r}")
    return agent == PROPOSER


def _echo(text: str) -> str:
    return repr(text if len(text) <= _ECHO_LENGTH else text[:_ECHO_LENGTH] + "...")


def _parse_offer(text: str) -> dict[str, Any]:
    match = _OFFER_PATTERN.fullmatch(text)
    if match is None or not _INTEGER.fullmatch(match.group(1)):
        raise ActionParseError(f"expected {_OFFER_FORMAT}, got {_echo(text)}")
    offer = int(match.group(1))
    if not 0 <= offer <= MAX_OFFER:
        raise ActionParseError(f"offer must be an integer 0-{MAX_OFFER}, got {offer}")
    message = normalize_text((match.group(2) or "").strip(), MESSAGE_LENGTH)
    return {"offer": offer, "message": message}


def _parse_verdict(text: str, observation: Any) -> int:
    word = text.rstrip(".!").strip().upper()
    if word not in _VERDICTS:
        raise ActionParseError(f"expected 'ACCEPT' or 'REJECT', got {_echo(text)}")
    action = _VERDICTS[word]
    mask = action_mask_of(observation)
    if mask is not None and not mask[action]:
        raise ActionParseError(f"{word} is not allowed now")
    return action


raw_env.protocol = UltimatumProtocol()  # the env module cannot import its protocol (a cycle)
