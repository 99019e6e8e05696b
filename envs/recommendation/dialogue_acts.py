"""The dialogue's words shared by the env and its protocol: the acts of each role (the action
spaces index them), the rating scales and the text limits of the action spaces."""

from __future__ import annotations

SEARCH, ASK, RECOMMEND, RESPOND = range(4)
REC_ACTS: tuple[str, ...] = ("search", "ask", "recommend", "respond")
DISCLOSE, INQUIRE, ANSWER, ACCEPT, REJECT, QUIT = range(6)
USER_ACTS: tuple[str, ...] = ("disclose", "inquire", "answer", "accept", "reject", "quit")
FEATURE_ACTS: tuple[str, ...] = ("disclose", "answer", "reject")
"""The user's acts that name a feature and a value."""
SCALES: tuple[str, ...] = ("recommendation", "strategy", "expression")
QUERY_CHARS, MESSAGE_CHARS = 200, 1000  # the text limits of the action spaces
