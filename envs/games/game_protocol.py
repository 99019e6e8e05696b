"""What the three games' text protocols share: the message bound, and one reply budget and one
set of stop sequences for both roles (so neither side of a game is favoured by a longer reply)."""

from __future__ import annotations

from typing import Any

from envs.core.protocol import TextProtocol
from envs.core.spaces import normalize_text
from envs.core.text import COMMAND_STOPS, MESSAGE_TOKENS, known_agent


class GameProtocol(TextProtocol):
    """A game's protocol: ``agents`` are its players, ``command_tokens`` the longest command
    reply (with room to spare); a reply may add a message of ``message_length`` characters."""

    agents: tuple[str, ...] = ()
    command_tokens: int = 32

    def __init__(self, message_length: int = 500) -> None:
        self.message_length = message_length
        self.max_message_chars = message_length

    def reply_tokens(self, agent: str) -> int:
        """Both roles: the longest command plus room for its message or explanation."""
        known_agent(agent, self.agents)
        return self.command_tokens + MESSAGE_TOKENS

    def stop_sequences(self, agent: str) -> tuple[str, ...]:
        known_agent(agent, self.agents)
        return COMMAND_STOPS

    def with_offer_message(
        self, action: dict[str, Any], explanation: str, marked: str | None, observation: Any
    ) -> dict[str, Any]:
        """An offer given the text after it: its message (``marked`` with 'MESSAGE:' if it was,
        else the whole ``explanation``) where messages are allowed and it has none yet."""
        message = explanation if marked is None else marked
        if observation["messages_allowed"] and message and not action["message"]:
            return {**action, "message": normalize_text(message, self.message_length)}
        return action
