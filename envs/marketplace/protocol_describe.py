"""`MarketplaceProtocol.describe`: an action as the one-line command that parses back to it.

A reply cannot set everything an action can: a search runs with the market's algorithm and
bandwidth on the first page, a payment pays the proposal's total, a proposal's total is the sum of
its lines in cents, and a customer's ASK asks for its whole order. An action that sets these
otherwise has no reply, and `describe` raises `ActionParseError` rather than write another action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from envs.core.protocol import ActionParseError, keyed_or_json
from envs.core.spaces import normalize_text
from envs.core.text import exact_amount
from envs.marketplace.actions import END, MESSAGE, PAY, PROPOSE, SEARCH, WAIT

if TYPE_CHECKING:
    from envs.marketplace.protocol import MarketplaceProtocol


def _first(values: Any) -> Any:
    return np.ravel(values)[0]


def describe(
    protocol: MarketplaceProtocol, action: Any, observation: Any, agent: str, limits: tuple
) -> str:
    """``action`` as a command line, or as its JSON reply where the line cannot carry its text
    exactly (`keyed_or_json`); texts as the env stores them (`normalize_text`). ``limits``: the
    env's query and text lengths."""
    kind = int(action["kind"])
    actions = protocol.actions
    if kind in (WAIT, END):
        read = actions.wait() if kind == WAIT else actions.end()
        return keyed_or_json(protocol, "WAIT" if kind == WAIT else "END", read, observation, agent)
    query_chars, text_chars = limits
    if kind == SEARCH:
        query = normalize_text(action["query"], query_chars)
        algorithm = int(observation["search_algorithm"])
        bandwidth = int(observation["search_bandwidth"][0])
        read = actions.search(query, algorithm, bandwidth=bandwidth)
        asked = (int(action["algorithm"]), int(action["page"]), int(_first(action["bandwidth"])))
        if asked != (algorithm, 0, bandwidth):
            raise ActionParseError(
                "a search with another algorithm, page or bandwidth than SEARCH runs has no reply"
            )
        return keyed_or_json(protocol, f"SEARCH {query}", read, observation, agent)
    if kind == PAY:
        return _pay(protocol, action, observation, agent)
    if kind == PROPOSE:
        return _propose(protocol, action, observation, agent)
    if kind != MESSAGE:
        raise ActionParseError(f"kind {kind} has no reply")
    return _message(protocol, action, observation, agent, text_chars)


def _pay(protocol: MarketplaceProtocol, action: Any, observation: Any, agent: str) -> str:
    proposal = int(_first(action["proposal"]))
    total = float(_first(action["total"]))
    ids, totals = observation["proposals"].tolist(), observation["proposal_totals"].tolist()
    totals = dict(zip(ids, totals, strict=True))
    if totals.get(proposal) != total:
        raise ActionParseError(f"paying #{proposal} anything but its open total has no reply")
    read = protocol.actions.pay(proposal, total)
    return keyed_or_json(protocol, f"PAY #{proposal}", read, observation, agent)


def _propose(protocol: MarketplaceProtocol, action: Any, observation: Any, agent: str) -> str:
    customer = int(_first(action["to"]))  # the env reads the first slot only
    if customer < 0:
        raise ActionParseError("a proposal to nobody has no reply")
    columns = (action["items"], action["quantities"], action["unit_prices"])
    lines = [(int(i), int(q), float(p)) for i, q, p in zip(*columns, strict=True) if i >= 0]
    expiry = int(_first(action["expiry"]))
    read = protocol.actions.propose(customer, lines, expiry)
    exact = all(round(p, 2) == p for _, _, p in lines)
    if not exact or float(_first(read["total"])) != float(_first(action["total"])):
        raise ActionParseError("a proposal priced off the cent or off its lines' sum has no reply")
    names = protocol.domain.items
    spec = "; ".join(f"{q} x {names[i]} @ {exact_amount(p)}" for i, q, p in lines)
    keyed = f"PROPOSE customer_{customer}: {spec} expires {expiry}"
    return keyed_or_json(protocol, keyed, read, observation, agent)


def _message(
    protocol: MarketplaceProtocol, action: Any, observation: Any, agent: str, text_chars: int
) -> str:
    customer = int(observation["role"]) == 0
    other = "business" if customer else "customer"
    targets = [int(t) for t in np.ravel(action["to"]) if t >= 0]
    text = normalize_text(action["text"], text_chars)
    items = [int(i) for i in np.ravel(action["items"]) if i >= 0] if customer else []
    if items and items != [int(i) for i in observation["request_items"] if i >= 0]:
        raise ActionParseError("a message asking for other items than the order has no reply")
    read = protocol.actions.message(targets, text, items)
    verb = "ASK" if items else "MESSAGE"
    keyed = f"{verb} {', '.join(f'{other}_{t}' for t in targets)}: {text}"
    return keyed_or_json(protocol, keyed, read, observation, agent)
