"""Play bargaining episodes in tests and keep what they ended with."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.games.bargaining_rules import ACCEPT, OFFER, REJECT
from tests.envs.games.playing import Outcome, play, play_actions

__all__ = ["ACCEPT_ACTION", "REJECT_ACTION", "Outcome", "offer", "play", "play_actions", "verdict"]


def offer(alice_share: float, message: Any = "") -> dict[str, Any]:
    return {
        "decision": OFFER,
        "alice_share": np.array([alice_share], dtype=np.float64),
        "message": message,
    }


def verdict(decision: int) -> dict[str, Any]:
    return {"decision": decision, "alice_share": np.zeros(1, dtype=np.float64), "message": ""}


ACCEPT_ACTION = verdict(ACCEPT)
REJECT_ACTION = verdict(REJECT)
