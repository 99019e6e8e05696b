"""The marketplace's spaces: the size limits, the observation and action `Dict`s, the read-only
placeholders for the other role's fields and the kind masks (`envs.marketplace.env`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete

from envs.core.spaces import FreeText
from envs.core.turns import read_only
from envs.marketplace.actions import END, KINDS, MESSAGE, PAY, PROPOSE, SEARCH
from envs.marketplace.ledger import REASONS
from envs.marketplace.params import ALGORITHMS, MarketParams

CUSTOMER, BUSINESS = 0, 1
MAX_ORDER_ITEMS, MAX_ORDER_AMENITIES = 3, 2
QUERY_CHARS, TEXT_CHARS, VIEW_CHARS = 200, 1000, 60_000
MAX_PAGES, MAX_QUANTITY, MAX_ID = 100, 99, 2**31 - 2


# The fields each kind reads (checked against their spaces before a step changes anything).
FIELDS_OF: dict[int, tuple[str, ...]] = {
    SEARCH: ("query", "algorithm", "page", "bandwidth"),
    MESSAGE: ("to",),
    PROPOSE: ("to", "items", "quantities", "unit_prices", "total", "expiry"),
    PAY: ("proposal", "total"),
    END: (),
}


def observation_space(
    p: MarketParams,
    n_items: int,
    n_amenities: int,
    n_customers: int,
    n_businesses: int,
    details: dict[str, Any],
) -> Dict:
    """One `Dict` for every agent; ``details`` are the detail fields' spaces (`DetailFields`)."""
    k, n_p, q = p.max_bandwidth, p.max_proposals, p.max_inquiries
    i64, f64 = np.int64, np.float64
    ticks = p.max_ticks * p.days

    def ids(high: int, shape: tuple[int, ...]) -> Box:
        return Box(-1, high, shape=shape, dtype=i64)

    return Dict(
        {
            "role": Discrete(2),
            "day": Discrete(p.days),
            "tick": Box(0, ticks, shape=(1,), dtype=i64),
            "ready": Discrete(2),
            "status": Discrete(len(REASONS)),
            "kind_mask": Box(0, 1, shape=(len(KINDS),), dtype=np.int8),
            "budget": Box(-np.inf, np.inf, shape=(1,), dtype=f64),
            "paid": Box(0, np.iinfo(i64).max, shape=(1,), dtype=i64),
            "request_items": ids(n_items - 1, (MAX_ORDER_ITEMS,)),
            "request_amenities": ids(n_amenities - 1, (MAX_ORDER_AMENITIES,)),
            "results": ids(n_businesses - 1, (k,)),
            "result_prices": Box(-1, np.inf, shape=(k,), dtype=f64),
            "result_amenities": Box(0, 1, shape=(k,), dtype=np.int8),
            "proposals": ids(MAX_ID, (n_p,)),
            "proposal_businesses": ids(n_businesses - 1, (n_p,)),
            "proposal_totals": Box(0, np.inf, shape=(n_p,), dtype=f64),
            "proposal_covers": Box(0, 1, shape=(n_p,), dtype=np.int8),
            "proposal_expires": Box(0, np.iinfo(i64).max, shape=(n_p,), dtype=i64),
            "inquiries": ids(n_customers - 1, (q,)),
            "inquiry_items": ids(n_items - 1, (q, MAX_ORDER_ITEMS)),
            "inquiry_prices": Box(-1, np.inf, shape=(q, MAX_ORDER_ITEMS), dtype=f64),
            "floor_factor": Box(0, 1, shape=(1,), dtype=f64),
            "search_algorithm": Discrete(len(ALGORITHMS)),
            "search_bandwidth": Box(1, k, shape=(1,), dtype=i64),
            **details,
            "text": FreeText(VIEW_CHARS),
        }
    )


def action_space(p: MarketParams, n_items: int, n_customers: int, n_businesses: int) -> Dict:
    """One `Dict` for every agent: the kind and the fields of every kind."""
    lines, k = p.max_lines, p.max_bandwidth
    i64, f64 = np.int64, np.float64
    return Dict(
        {
            "kind": Discrete(len(KINDS)),
            "query": FreeText(QUERY_CHARS),
            "algorithm": Discrete(len(ALGORITHMS)),
            "page": Discrete(MAX_PAGES),
            "bandwidth": Box(1, k, shape=(1,), dtype=i64),
            "to": Box(-1, max(n_businesses, n_customers) - 1, shape=(k,), dtype=i64),
            "text": FreeText(TEXT_CHARS),
            "items": Box(-1, n_items - 1, shape=(lines,), dtype=i64),
            "quantities": Box(0, MAX_QUANTITY, shape=(lines,), dtype=i64),
            "unit_prices": Box(0.0, 1e7, shape=(lines,), dtype=f64),
            "total": Box(0.0, 1e9, shape=(1,), dtype=f64),
            "expiry": Box(1, p.max_ticks, shape=(1,), dtype=i64),
            "proposal": Box(-1, MAX_ID, shape=(1,), dtype=i64),
        }
    )


def empty_fields(observations: Dict, search_bandwidth: int) -> dict[str, np.ndarray]:
    """Read-only placeholders for the fields of the other role (shared, never written)."""
    space = observations.spaces
    empty = {}
    for name in (
        "request_items", "request_amenities", "results", "proposals", "proposal_businesses",
        "inquiries", "inquiry_items",
    ):  # fmt: skip
        empty[name] = read_only(np.full(space[name].shape, -1))
    for name in ("result_prices", "inquiry_prices"):
        empty[name] = read_only(np.full(space[name].shape, -1.0), np.float64)
    empty["floor_factor"] = read_only(np.zeros(1), np.float64)
    empty["search_bandwidth"] = read_only([search_bandwidth])
    for name in ("result_amenities", "proposal_covers"):
        empty[name] = read_only(np.zeros(space[name].shape), np.int8)
    empty["proposal_totals"] = read_only(np.zeros(space["proposal_totals"].shape), np.float64)
    empty["proposal_expires"] = read_only(np.zeros(space["proposal_expires"].shape))
    return empty


def kind_masks(actions: Dict) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Each kind mask as a read-only array and as the ``info["action_mask"]`` dict."""
    rows = {
        "busy": [1, 0, 0, 0, 0, 0],
        "customer": [1, 1, 1, 0, 0, 1],
        "customer_pay": [1, 1, 1, 0, 1, 1],
        "business": [1, 0, 1, 1, 0, 0],
    }
    masks = {}
    for name, row in rows.items():
        array = read_only(row, np.int8)
        as_dict = {key: None for key in actions.spaces}
        as_dict["kind"] = array
        masks[name] = (array, as_dict)
    return masks
