"""Play negotiation episodes in tests and keep what they ended with."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from envs.games.negotiation_rules import ACCEPT, OFFER, OUTSIDE, REJECT
from tests.envs.games import playing


class Outcome(playing.Outcome):
    """A negotiation's outcome, with the offers and decisions made along the way."""

    def offers(self, agent: str) -> list[float]:
        """The prices ``agent`` offered, in order."""
        return [
            float(action["price"][0])
            for who, action in self.actions
            if who == agent and action["decision"] == OFFER
        ]

    def decisions(self) -> list[int]:
        return [int(action["decision"]) for _, action in self.actions]


def offer(price: float, message: Any = "") -> dict[str, Any]:
    return {"decision": OFFER, "price": np.array([price], dtype=np.float64), "message": message}


def verdict(decision: int) -> dict[str, Any]:
    return {"decision": decision, "price": np.zeros(1, dtype=np.float64), "message": ""}


ACCEPT_ACTION = verdict(ACCEPT)
REJECT_ACTION = verdict(REJECT)
OUTSIDE_ACTION = verdict(OUTSIDE)


play = functools.partial(playing.play, outcome_type=Outcome)
play_actions = functools.partial(playing.play_actions, outcome_type=Outcome)
