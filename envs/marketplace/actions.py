"""Complete marketplace actions from a few arguments, for the text protocol and scripted players.

Every action built here has every field of the action space (unused ones at neutral values), so it
is a member of the space and serialises the same way whatever its kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.marketplace.params import ALGORITHMS

WAIT, SEARCH, MESSAGE, PROPOSE, PAY, END = range(6)
KINDS: tuple[str, ...] = ("wait", "search", "message", "propose", "pay", "end")
DEFAULT_EXPIRY = 10


@dataclass(frozen=True)
class ActionBuilder:
    """Builds actions for an env with ``bandwidth`` recipient slots and ``lines`` proposal lines."""

    bandwidth: int
    lines: int
    max_ticks: int

    def _blank(self, kind: int) -> dict[str, Any]:
        return {
            "kind": kind,
            "query": "",
            "algorithm": 1,
            "page": 0,
            "bandwidth": np.array([self.bandwidth], dtype=np.int64),
            "to": np.full(self.bandwidth, -1, dtype=np.int64),
            "text": "",
            "items": np.full(self.lines, -1, dtype=np.int64),
            "quantities": np.zeros(self.lines, dtype=np.int64),
            "unit_prices": np.zeros(self.lines, dtype=np.float64),
            "total": np.zeros(1, dtype=np.float64),
            "expiry": np.array([min(DEFAULT_EXPIRY, self.max_ticks)], dtype=np.int64),
            "proposal": np.array([-1], dtype=np.int64),
        }

    def wait(self) -> dict[str, Any]:
        return self._blank(WAIT)

    def end(self) -> dict[str, Any]:
        return self._blank(END)

    def search(
        self, query: str, algorithm: int | str = 1, page: int = 0, bandwidth: int | None = None
    ) -> dict[str, Any]:
        action = self._blank(SEARCH)
        action["query"] = query
        action["algorithm"] = (
            ALGORITHMS.index(algorithm) if isinstance(algorithm, str) else algorithm
        )
        action["page"] = page
        action["bandwidth"][0] = min(bandwidth or self.bandwidth, self.bandwidth)
        return action

    def message(
        self, to: Sequence[int], text: str = "", items: Sequence[int] = ()
    ) -> dict[str, Any]:
        """A message to up to ``bandwidth`` recipients (customers may attach the items asked)."""
        action = self._blank(MESSAGE)
        targets = list(to)[: self.bandwidth]
        action["to"][: len(targets)] = targets
        action["text"] = text
        asked = list(items)[: self.lines]
        action["items"][: len(asked)] = asked
        return action

    def propose(
        self, customer: int, lines: Sequence[tuple[int, int, float]], expiry: int = DEFAULT_EXPIRY
    ) -> dict[str, Any]:
        """An order proposal of ``lines`` (item, quantity, unit price); the total is their sum."""
        action = self._blank(PROPOSE)
        action["to"][0] = customer
        shown = list(lines)[: self.lines]
        total = 0.0
        for slot, (item, quantity, price) in enumerate(shown):
            price = round(float(price), 2)
            action["items"][slot] = item
            action["quantities"][slot] = quantity
            action["unit_prices"][slot] = price
            total += quantity * price
        action["total"][0] = round(total, 2)
        action["expiry"][0] = max(1, min(expiry, self.max_ticks))
        return action

    def pay(self, proposal: int, amount: float) -> dict[str, Any]:
        action = self._blank(PAY)
        action["proposal"][0] = proposal
        action["total"][0] = amount
        return action
