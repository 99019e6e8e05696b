"""What an agent observes beyond the numbers its decisions read: the fields its text view is
rendered from (`envs.marketplace.protocol_views`), bounded by the bandwidth and the slot counts
however long the episode runs.

A customer: its request in words, the latest search (query, algorithm, page) with each hit's name,
rating, description, the prices of the customer's items there, some other items and its
amenities; the open proposals' lines; its payments. A business: its own listing (name,
description, menu, amenities) and the tick and words of each waiting customer's inquiry. Both: the
last few messages received and what became of their last action. Text another agent wrote is
kept as written; the protocol quotes it as ``untrusted_text`` says (`quoted`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Box, Discrete, Space, Tuple

from envs.core.spaces import FreeText
from envs.marketplace.ledger import Proposal
from envs.marketplace.market import Business, Customer, Market
from envs.marketplace.world import Message, Shop, Shopper, Trader

MENU_SHOWN = 6
MESSAGES_SHOWN = 5
DESCRIPTION_CHARS = 2000  # whole descriptions: the manipulation conditions live in them
NAME_CHARS, DETAIL_CHARS, REQUEST_CHARS = 1000, 1000, 5000
NOTE_CHARS = 64
"""Room for what a delivered message gains besides its text (a proposal's "(proposal #id) ")."""
FLOOR_SLACK = 1e-7  # in cents: a floor this close above a whole cent is that cent
_AUTHOR_TAG = re.compile(r"<\s*/?\s*(?:business|customer)_text\s*>", re.IGNORECASE)
NO_KIND = -1
"""``last_kind`` before an agent's first action."""
_BIG = np.iinfo(np.int64).max


def quoted(text: str, author: str, untrusted_text: str) -> str:
    """``text`` written by an ``author`` agent as the reader sees it: as written ("plain"), or
    between its author's tags with any tag inside removed, so the text cannot close its own
    quotation and pose as the view ("delimited")."""
    if untrusted_text == "plain":
        return text
    inner = text
    while _AUTHOR_TAG.search(inner):  # until none is left (removing one may join another)
        inner = _AUTHOR_TAG.sub("", inner)
    return f"<{author}_text>{inner}</{author}_text>"


def money(value: float) -> str:
    return f"${value:,.2f}"


def floor_in_cents(factor: float, price: float) -> float:
    """The lowest unit price in cents the ledger accepts for an item listed at ``price`` (its
    floor ``factor * price`` rounded up: a floor shown rounded down would be refused)."""
    return max(0.0, math.ceil(factor * price * 100 - FLOOR_SLACK) / 100)


def _frozen(values: Any, dtype: Any) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    array.flags.writeable = False
    return array


def _texts(count: int, chars: int) -> Tuple:
    return Tuple(tuple(FreeText(chars) for _ in range(count)))


class DetailFields:
    """Builds the detail fields of the marketplace's observations (see the module docstring):
    their spaces, read-only placeholders for the other role, and each agent's values, cached
    while what they show does not change (fields already returned are never written)."""

    def __init__(
        self,
        *,
        n_items: int,
        n_amenities: int,
        n_customers: int,
        n_businesses: int,
        bandwidth: int,
        proposals: int,
        inquiries: int,
        lines: int,
        query_chars: int,
        text_chars: int,
        algorithms: Sequence[str],
        kinds: Sequence[str],
        order_items: int,
    ) -> None:
        self.algorithms = tuple(algorithms)
        self.kinds = tuple(kinds)
        self.order_items = order_items
        self.sizes = (bandwidth, proposals, inquiries, lines)
        self.n_items, self.n_amenities = n_items, n_amenities
        k, n_p, q = bandwidth, proposals, inquiries
        i64, f64, i8, inf = np.int64, np.float64, np.int8, np.inf
        self.spaces: dict[str, Space[Any]] = {
            "request": FreeText(REQUEST_CHARS),
            "search_query": FreeText(query_chars),
            "search_page": Box(-1, _BIG, shape=(3,), dtype=i64),
            "result_names": _texts(k, NAME_CHARS),
            "result_descriptions": _texts(k, DESCRIPTION_CHARS),
            "result_ratings": Box(0.0, inf, shape=(k,), dtype=f64),
            "result_item_prices": Box(-1.0, inf, shape=(k, order_items), dtype=f64),
            "result_other_items": Box(-1, n_items - 1, shape=(k, MENU_SHOWN), dtype=i64),
            "result_other_count": Box(0, n_items, shape=(k,), dtype=i64),
            "result_amenity_flags": Box(0, 1, shape=(k, n_amenities), dtype=i8),
            "proposal_items": Box(-1, n_items - 1, shape=(n_p, lines), dtype=i64),
            "proposal_quantities": Box(0, _BIG, shape=(n_p, lines), dtype=i64),
            "proposal_unit_prices": Box(0.0, inf, shape=(n_p, lines), dtype=f64),
            "payments": Box(-1, _BIG, shape=(n_p,), dtype=i64),
            "payment_amounts": Box(0.0, inf, shape=(n_p,), dtype=f64),
            "business_name": FreeText(NAME_CHARS),
            "business_description": FreeText(DESCRIPTION_CHARS),
            "menu_items": Box(-1, n_items - 1, shape=(n_items,), dtype=i64),
            "menu_prices": Box(-1.0, inf, shape=(n_items,), dtype=f64),
            "business_amenities": Box(0, 1, shape=(n_amenities,), dtype=i8),
            "inquiry_ticks": Box(-1, _BIG, shape=(q,), dtype=i64),
            "inquiry_texts": _texts(q, text_chars),
            "messages": _texts(MESSAGES_SHOWN, text_chars + NOTE_CHARS),
            "message_ticks": Box(-1, _BIG, shape=(MESSAGES_SHOWN,), dtype=i64),
            "message_senders": Box(
                -1, max(n_customers, n_businesses) - 1, shape=(MESSAGES_SHOWN,), dtype=i64
            ),
            "inbox_size": Box(0, _BIG, shape=(1,), dtype=i64),
            "last_kind": Discrete(len(kinds) + 1, start=NO_KIND),
            "detail": FreeText(DETAIL_CHARS),
        }
        self.empty = {name: _placeholder(space) for name, space in self.spaces.items()}
        self._no_business = {name: self.empty[name] for name in _BUSINESS_FIELDS}
        self._no_customer = {name: self.empty[name] for name in _CUSTOMER_FIELDS}
        self._no_page = {name: self.empty[name] for name in _PAGE_FIELDS}
        self._no_lines = {name: self.empty[name] for name in _LINE_FIELDS}
        self._no_payments = {name: self.empty[name] for name in ("payments", "payment_amounts")}
        self._pages: dict[int, tuple[Any, tuple[int, ...], dict[str, Any]]] = {}
        self._inboxes: dict[str, tuple[int, dict[str, Any]]] = {}
        self._proposals: dict[int, tuple[tuple[Proposal, ...], dict[str, Any]]] = {}
        self._listings: list[dict[str, Any]] = []

    def reset(self, market: Market) -> None:
        """Forget the last episode's caches; each business's own listing, built once."""
        self._pages, self._inboxes, self._proposals = {}, {}, {}
        self._listings = [self._listing(business) for business in market.businesses]

    # Both roles ---------------------------------------------------------------------------------

    def common(self, trader: Trader) -> dict[str, Any]:
        """The last messages received and what became of the trader's last action."""
        kind = trader.last_kind
        return {
            **self._inbox(trader),
            "last_kind": self.kinds.index(kind) if kind in self.kinds else NO_KIND,
            "detail": trader.detail[:DETAIL_CHARS],
        }

    def _inbox(self, trader: Trader) -> dict[str, Any]:
        inbox = trader.inbox
        cached = self._inboxes.get(trader.name)
        if cached is not None and cached[0] == len(inbox):
            return cached[1]
        recent: list[Message] = inbox[-MESSAGES_SHOWN:]
        free = MESSAGES_SHOWN - len(recent)
        fields = {
            "messages": tuple(m.text for m in recent) + ("",) * free,
            "message_ticks": _frozen([m.tick for m in recent] + [-1] * free, np.int64),
            "message_senders": _frozen(
                [int(m.sender.rpartition("_")[2]) for m in recent] + [-1] * free, np.int64
            ),
            "inbox_size": _frozen([len(inbox)], np.int64),
        }
        self._inboxes[trader.name] = (len(inbox), fields)
        return fields

    # Customers ----------------------------------------------------------------------------------

    def customer(
        self, market: Market, shopper: Shopper, live: Sequence[Proposal], paid: Sequence[Any]
    ) -> dict[str, Any]:
        """A customer's request, search, proposal lines and payments (``paid``: its payments of
        the day), with the business fields empty."""
        customer = market.customers[shopper.index]
        return {
            **self._no_business,
            "request": customer.request[:REQUEST_CHARS],
            **self._page(market, shopper, customer),
            **self._lines(shopper.index, live),
            **self._payments(paid),
        }

    def _page(self, market: Market, shopper: Shopper, customer: Customer) -> dict[str, Any]:
        page = shopper.page
        if page is None:
            return self._no_page
        cached = self._pages.get(shopper.index)
        if cached is not None and cached[0] is page and cached[1] == customer.items:
            return cached[2]
        k = self.sizes[0]
        shown = [market.businesses[b] for b in page.businesses[:k]]
        free = k - len(shown)
        wanted = customer.items
        prices = np.full((k, self.order_items), -1.0)
        others = np.full((k, MENU_SHOWN), -1, dtype=np.int64)
        counts = np.zeros(k, dtype=np.int64)
        amenities = np.zeros((k, self.n_amenities), dtype=np.int8)
        for slot, business in enumerate(shown):
            menu = business.menu
            listed = [menu.get(i, -1.0) for i in wanted[: self.order_items]]
            prices[slot, : len(listed)] = listed
            rest = [i for i in menu if i not in wanted]
            others[slot, : min(len(rest), MENU_SHOWN)] = rest[:MENU_SHOWN]
            counts[slot] = len(rest)
            amenities[slot, sorted(business.amenities)] = 1
        for array in (prices, others, counts, amenities):
            array.flags.writeable = False
        fields = {
            "search_query": shopper.query,
            "search_page": _frozen(
                [self.algorithms.index(page.algorithm), page.page, page.total], np.int64
            ),
            "result_names": tuple(b.name[:NAME_CHARS] for b in shown) + ("",) * free,
            "result_descriptions": tuple(b.description[:DESCRIPTION_CHARS] for b in shown)
            + ("",) * free,
            "result_ratings": _frozen([b.rating for b in shown] + [0.0] * free, np.float64),
            "result_item_prices": prices,
            "result_other_items": others,
            "result_other_count": counts,
            "result_amenity_flags": amenities,
        }
        self._pages[shopper.index] = (page, customer.items, fields)
        return fields

    def _lines(self, customer: int, live: Sequence[Proposal]) -> dict[str, Any]:
        """The lines of the open proposals shown (a proposal's lines never change)."""
        if not live:
            return self._no_lines
        _, n_p, _, lines = self.sizes
        shown = tuple(live[:n_p])
        cached = self._proposals.get(customer)
        if cached is not None and _same(cached[0], shown):
            return cached[1]
        items = np.full((n_p, lines), -1, dtype=np.int64)
        quantities = np.zeros((n_p, lines), dtype=np.int64)
        prices = np.zeros((n_p, lines), dtype=np.float64)
        for slot, proposal in enumerate(shown):
            count = min(len(proposal.items), lines)
            items[slot, :count] = proposal.items[:count]
            quantities[slot, :count] = proposal.quantities[:count]
            prices[slot, :count] = proposal.unit_prices[:count]
        for array in (items, quantities, prices):
            array.setflags(write=False)
        fields = {
            "proposal_items": items,
            "proposal_quantities": quantities,
            "proposal_unit_prices": prices,
        }
        self._proposals[customer] = (shown, fields)
        return fields

    def _payments(self, paid: Sequence[Any]) -> dict[str, Any]:
        if not paid:
            return self._no_payments
        n_p = self.sizes[1]
        shown = list(paid[:n_p])
        free = n_p - len(shown)
        return {
            "payments": np.array([p.proposal for p in shown] + [-1] * free, dtype=np.int64),
            "payment_amounts": np.array([p.amount for p in shown] + [0.0] * free),
        }

    # Businesses ---------------------------------------------------------------------------------

    def business(self, shop: Shop, waiting: Sequence[tuple[int, Message]]) -> dict[str, Any]:
        """A business's own listing and its waiting inquiries' ticks and words (``waiting``: the
        rows its ``inquiries`` field shows), with the customer fields empty."""
        q = self.sizes[2]
        fields = {**self._no_customer, **self._listings[shop.index]}
        if waiting:
            free = q - len(waiting)
            fields["inquiry_ticks"] = np.array(
                [m.tick for _, m in waiting] + [-1] * free, dtype=np.int64
            )
            fields["inquiry_texts"] = tuple(m.text for _, m in waiting) + ("",) * free
        else:
            fields["inquiry_ticks"] = self.empty["inquiry_ticks"]
            fields["inquiry_texts"] = self.empty["inquiry_texts"]
        return fields

    def _listing(self, business: Business) -> dict[str, Any]:
        menu = list(business.menu.items())
        free = self.n_items - len(menu)
        amenities = np.zeros(self.n_amenities, dtype=np.int8)
        amenities[sorted(business.amenities)] = 1
        amenities.flags.writeable = False
        return {
            "business_name": business.name[:NAME_CHARS],
            "business_description": business.description[:DESCRIPTION_CHARS],
            "menu_items": _frozen([i for i, _ in menu] + [-1] * free, np.int64),
            "menu_prices": _frozen([p for _, p in menu] + [-1.0] * free, np.float64),
            "business_amenities": amenities,
        }


_PAGE_FIELDS = (
    "search_query", "search_page", "result_names", "result_descriptions", "result_ratings",
    "result_item_prices", "result_other_items", "result_other_count", "result_amenity_flags",
)  # fmt: skip
_LINE_FIELDS = ("proposal_items", "proposal_quantities", "proposal_unit_prices")
_CUSTOMER_FIELDS = ("request", *_PAGE_FIELDS, *_LINE_FIELDS, "payments", "payment_amounts")
_BUSINESS_FIELDS = (
    "business_name", "business_description", "menu_items", "menu_prices", "business_amenities",
    "inquiry_ticks", "inquiry_texts",
)  # fmt: skip


def _same(kept: tuple[Any, ...], shown: tuple[Any, ...]) -> bool:
    """Whether two tuples hold the very same objects."""
    return len(kept) == len(shown) and all(a is b for a, b in zip(kept, shown, strict=True))


def _placeholder(space: Space[Any]) -> Any:
    """The read-only value of an empty field: "" texts, -1 ids and prices, 0 elsewhere."""
    if isinstance(space, Tuple):
        return ("",) * len(space.spaces)
    if isinstance(space, FreeText):
        return ""
    if isinstance(space, Discrete):
        return int(space.start)
    fill = -1 if space.low.min() < 0 else 0
    return _frozen(np.full(space.shape, fill, dtype=space.dtype), space.dtype)
