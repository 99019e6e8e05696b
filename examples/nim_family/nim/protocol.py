"""Nim's text protocol: the player answers 'TAKE <n>'."""

from __future__ import annotations

import re
from typing import Any

from envs.core.protocol import ActionParseError, TextProtocol, ValidAction

_TAKE = re.compile(r"^\s*take\s+(\d+)\s*$", re.IGNORECASE)


class NimProtocol(TextProtocol):
    """Text for `nim.env`; the action k (Discrete) is the reply 'TAKE k+1'."""

    name = "nim"

    def instructions(self, agent: str) -> str:
        return (
            "You play Nim: two players take tokens in turn; whoever takes the last token wins. "
            "Answer 'TAKE <n>' with n the number of tokens you take."
        )

    def render(self, observation: Any, agent: str) -> str:
        most = int(observation["action_mask"].sum())
        return f"{int(observation['tokens'][0])} tokens are left. Take 1 to {most}."

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        match = _TAKE.match(text)
        most = int(observation["action_mask"].sum())
        if match is None or not 1 <= int(match.group(1)) <= most:
            raise ActionParseError(f"answer 'TAKE <n>' with n from 1 to {most}")
        return int(match.group(1)) - 1

    def describe(self, action: Any, observation: Any, agent: str) -> str:
        return f"TAKE {int(action) + 1}"

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        most = int(observation["action_mask"].sum())
        return [ValidAction(f"TAKE {n}", n - 1) for n in range(1, most + 1)]
