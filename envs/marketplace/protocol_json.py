"""The marketplace's structured (JSON) replies: what a reply may do and name now, its schema, an
action as JSON and a JSON reply parsed (a part of `envs.marketplace.protocol.MarketplaceProtocol`,
whose domain and action builder they use)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.core.protocol import ActionParseError
from envs.core.spaces import normalize_text
from envs.core.structured import (
    array,
    choice,
    const,
    free_text,
    get_field,
    integer,
    number,
    obj,
    one_of,
)
from envs.marketplace.actions import END, KINDS, MESSAGE, PAY, PROPOSE, SEARCH, WAIT, ActionBuilder
from envs.marketplace.ledger import CENT_TOLERANCE
from envs.marketplace.market import Domain
from envs.marketplace.spaces import MAX_QUANTITY, QUERY_CHARS, TEXT_CHARS
from envs.marketplace.views import floor_in_cents

ASK_TEXT = "Please send me a proposal for my order."
BLANK_BUSINESS_MESSAGE = "Thank you for your message."
"""The text of a structured business message that came without any (the env refuses blank ones)."""
MAX_UNIT_PRICE, MAX_TOTAL = 1e7, 1e9  # the bounds of the action space's unit_prices and total


def observed_role(observation: Any) -> str:
    """The role whose observation this is: "customer" or "business"."""
    return "business" if int(observation["role"]) == 1 else "customer"


def _int_choice(values: list[int]) -> dict[str, Any]:
    """One of the integers ``values`` (ids)."""
    return {"type": "integer", "enum": list(dict.fromkeys(values))}


@dataclass(frozen=True)
class _Offer:
    """One item a business may put in a proposal now: its id and unit price bounds."""

    item: int
    low: float
    high: float


@dataclass(frozen=True)
class _Options:
    """What a structured reply may do and name now (the schema and the JSON parser share it)."""

    kinds: tuple[str, ...]
    recipients: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    offers: Mapping[str, _Offer] = field(default_factory=dict)
    proposals: Mapping[int, float] = field(default_factory=dict)


class StructuredReplies:
    """The JSON side of `MarketplaceProtocol`."""

    domain: Domain
    actions: ActionBuilder

    def _options(self, observation: Any) -> _Options:
        mask = observation["kind_mask"]
        if observed_role(observation) == "business":
            waiting = tuple(f"customer_{int(c)}" for c in observation["inquiries"] if c >= 0)
            kinds = ["wait"]
            if mask[MESSAGE] and waiting:
                kinds.append("message")
            offers = self._offers(observation) if mask[PROPOSE] and waiting else {}
            if offers:
                kinds.append("propose")
            return _Options(tuple(kinds), recipients=waiting, customers=waiting, offers=offers)
        found = [int(b) for b in observation["results"] if b >= 0]
        found += [int(b) for b in observation["proposal_businesses"] if b >= 0]
        recipients = tuple(f"business_{b}" for b in dict.fromkeys(found))
        proposals = self._affordable(observation) if mask[PAY] else {}
        kinds = ["wait"]
        kinds += ["search"] if mask[SEARCH] else []
        kinds += ["ask", "message"] if mask[MESSAGE] and recipients else []
        kinds += ["pay"] if proposals else []
        kinds += ["end"] if mask[END] else []
        return _Options(tuple(kinds), recipients=recipients, proposals=proposals)

    @staticmethod
    def _affordable(observation: Any) -> dict[int, float]:
        """The open proposals the budget left can pay: id -> total."""
        budget = float(observation["budget"][0]) + CENT_TOLERANCE
        return {
            int(p): float(t)
            for p, t in zip(observation["proposals"], observation["proposal_totals"], strict=True)
            if p >= 0 and t <= budget
        }

    def _offers(self, observation: Any) -> dict[str, _Offer]:
        """The asked items on the menu, by name, each priced from its floor (up to the cent) to
        the most a full proposal of them can cost within the action space."""
        high = math.floor(
            min(MAX_UNIT_PRICE, MAX_TOTAL / (self.actions.lines * MAX_QUANTITY)) * 100
        )
        high /= 100
        factor = float(observation["floor_factor"][0])
        offers = {}
        for row_items, row_prices in zip(
            observation["inquiry_items"], observation["inquiry_prices"], strict=True
        ):
            for item, price in zip(row_items, row_prices, strict=True):
                if item < 0 or price < 0:
                    continue
                low = floor_in_cents(factor, float(price))
                if low <= high:
                    offers.setdefault(self.domain.items[int(item)], _Offer(int(item), low, high))
        return offers

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any]:
        options = self._options(observation)
        variants = []
        for kind in options.kinds:
            if kind in ("wait", "end"):
                variants.append(obj({"kind": const(kind)}))
            elif kind == "search":
                variants.append(obj({"kind": const(kind), "query": free_text(QUERY_CHARS)}))
            elif kind == "ask":
                continue  # one variant with "message"
            elif kind == "message":
                recipients = options.recipients
                to = array(choice(recipients), 1, min(self.actions.bandwidth, len(recipients)))
                said = ["ask", "message"] if "ask" in options.kinds else ["message"]
                variants.append(
                    obj({"kind": choice(said), "to": to, "text": free_text(TEXT_CHARS)})
                )
            elif kind == "pay":
                variants.append(
                    obj({"kind": const(kind), "proposal": _int_choice(list(options.proposals))})
                )
            else:
                lines = [
                    obj(
                        {
                            "item": const(name),
                            "quantity": integer(1, MAX_QUANTITY),
                            "unit_price": number(offer.low, offer.high),
                        }
                    )
                    for name, offer in options.offers.items()
                ]
                variants.append(
                    obj(
                        {
                            "kind": const(kind),
                            "customer": choice(options.customers),
                            "lines": array(one_of(lines), 1, self.actions.lines),
                            "expires_in": integer(1, self.actions.max_ticks),
                        }
                    )
                )
        return one_of(variants)

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        kind = int(action["kind"])
        if kind in (WAIT, END):
            return {"kind": KINDS[kind]}
        if kind == SEARCH:
            return {"kind": "search", "query": str(action["query"])}
        if kind == PAY:
            return {"kind": "pay", "proposal": int(np.asarray(action["proposal"]).ravel()[0])}
        targets = [int(t) for t in np.asarray(action["to"]).ravel() if t >= 0]
        if kind == PROPOSE:
            names = self.domain.items
            lines = [
                {"item": names[int(i)], "quantity": int(q), "unit_price": float(p)}
                for i, q, p in zip(
                    action["items"], action["quantities"], action["unit_prices"], strict=True
                )
                if i >= 0
            ]
            return {
                "kind": "propose",
                "customer": f"customer_{targets[0]}",
                "lines": lines,
                "expires_in": int(np.asarray(action["expiry"]).ravel()[0]),
            }
        role = observed_role(observation)
        other = "business" if role == "customer" else "customer"
        asks = role == "customer" and bool((np.asarray(action["items"]) >= 0).any())
        return {
            "kind": "ask" if asks else "message",
            "to": [f"{other}_{t}" for t in targets],
            "text": str(action["text"]),
        }

    def _parse_json(self, data: dict[str, Any], observation: Any) -> Any:
        options = self._options(observation)
        kind = get_field(data, "kind", str)
        if kind not in options.kinds:
            raise ActionParseError(
                f"field 'kind': {kind!r} is not possible now; use one of {list(options.kinds)}"
            )
        if kind == "wait":
            return self.actions.wait()
        if kind == "end":
            return self.actions.end()
        if kind == "search":
            query = normalize_text(get_field(data, "query", str), QUERY_CHARS).strip()
            if not query:
                names = self.domain.items
                query = " ".join(names[i] for i in observation["request_items"] if i >= 0)
            return self.actions.search(
                query,
                int(observation["search_algorithm"]),
                bandwidth=int(observation["search_bandwidth"][0]),
            )
        if kind == "pay":
            proposal = get_field(data, "proposal", int)
            if proposal not in options.proposals:
                raise ActionParseError(
                    f"field 'proposal': #{proposal} is not an open proposal within the budget "
                    f"left; those are: {self._ids(list(options.proposals))}"
                )
            return self.actions.pay(proposal, options.proposals[proposal])
        if kind == "propose":
            return self._propose_json(data, options)
        targets = self._json_targets(get_field(data, "to", list), options.recipients, "to")
        text = normalize_text(get_field(data, "text", str), TEXT_CHARS).strip()
        if observed_role(observation) == "customer" and (kind == "ask" or not text):
            items = [int(i) for i in observation["request_items"] if i >= 0]
            return self.actions.message(targets, text or ASK_TEXT, items)
        return self.actions.message(targets, text or BLANK_BUSINESS_MESSAGE)

    def _json_targets(self, names: list[Any], allowed: tuple[str, ...], where: str) -> list[int]:
        if not names:
            raise ActionParseError(f"field {where!r}: name at least one of {list(allowed)}")
        if len(names) > self.actions.bandwidth:
            raise ActionParseError(
                f"field {where!r}: at most {self.actions.bandwidth} recipients, got {len(names)}"
            )
        targets = []
        for name in names:
            if name not in allowed:
                raise ActionParseError(f"field {where!r}: {name!r} is not one of {list(allowed)}")
            targets.append(int(name.rpartition("_")[2]))
        return list(dict.fromkeys(targets))

    def _propose_json(self, data: dict[str, Any], options: _Options) -> Any:
        customer = get_field(data, "customer", str)
        if customer not in options.customers:
            raise ActionParseError(
                f"field 'customer': {customer!r} is not one of {list(options.customers)}"
            )
        rows = get_field(data, "lines", list)
        if not 1 <= len(rows) <= self.actions.lines:
            raise ActionParseError(
                f"field 'lines': 1 to {self.actions.lines} lines, got {len(rows)}"
            )
        lines = []
        for n, row in enumerate(rows):
            where = f"lines[{n}]"
            if not isinstance(row, dict):
                raise ActionParseError(f"field {where!r}: expected an object, got {row!r}")
            name = get_field(row, "item", str)
            offer = options.offers.get(name)
            if offer is None:
                raise ActionParseError(
                    f"field '{where}.item': {name!r} is not one of {list(options.offers)}"
                )
            quantity = _whole(get_field(row, "quantity", (int, float)), f"{where}.quantity")
            if not 1 <= quantity <= MAX_QUANTITY:
                raise ActionParseError(
                    f"field '{where}.quantity': from 1 to {MAX_QUANTITY}, got {quantity}"
                )
            price = float(get_field(row, "unit_price", (int, float)))
            if not offer.low <= price <= offer.high:
                raise ActionParseError(
                    f"field '{where}.unit_price': from {offer.low:.2f} (the floor) to "
                    f"{offer.high:.2f}, got {price!r}"
                )
            lines.append((offer.item, quantity, price))
        expiry = _whole(get_field(data, "expires_in", (int, float)), "expires_in")
        if not 1 <= expiry <= self.actions.max_ticks:
            raise ActionParseError(
                f"field 'expires_in': from 1 to {self.actions.max_ticks} ticks, got {expiry}"
            )
        return self.actions.propose(int(customer.rpartition("_")[2]), lines, expiry)


def _whole(value: float, where: str) -> int:
    """A JSON number that must be whole (2 and 2.0 alike), else an error naming the field."""
    if not math.isfinite(value) or float(value) != int(value):
        raise ActionParseError(f"field {where!r}: expected a whole number, got {value!r}")
    return int(value)
