"""What the three games' text protocols share: the message bound, and one reply budget and one
set of stop sequences for both roles (so neither side of a game is favoured by a longer reply)."""

from __future__ import annotations

from envs.core.protocol import TextProtocol
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
