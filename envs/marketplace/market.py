"""The market a marketplace episode runs on: a domain vocabulary, customers and businesses.

Plain frozen dataclasses, built once per market by `envs.marketplace.generator` and shared
read-only by the search index, the ledger, the baselines and the environment. Ids are indices:
item ``i`` is ``domain.items[i]``, customer ``c`` is ``customers[c]`` (agent ``customer_<c>``),
business ``b`` is ``businesses[b]`` (agent ``business_<b>``).

Economics after the reference study (Magentic Marketplace): a customer wants every item of its
order (quantity 1 each) from a business that has every required amenity; its value for an item is
the item's mean price, so ``V = sum(values)``; its utility is ``2V - P`` when some paid proposal
covers the order at a business with the amenities, else ``-P`` (see `envs.marketplace.utility`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

DOMAINS = ("restaurants", "contractors")


@dataclass(frozen=True)
class Domain:
    """A market's vocabulary: item names with their mean prices, and amenity names."""

    name: str
    items: tuple[str, ...]
    item_prices: np.ndarray = field(compare=False)
    amenities: tuple[str, ...]

    def item_id(self, name: str) -> int:
        """The id of the item called ``name`` (case-insensitive); ``KeyError`` when unknown."""
        return self._item_ids[name.strip().lower()]

    def amenity_id(self, name: str) -> int:
        """The id of the amenity called ``name`` (case-insensitive); ``KeyError`` when unknown."""
        return self._amenity_ids[name.strip().lower()]

    @cached_property
    def _item_ids(self) -> dict[str, int]:
        return {name.lower(): i for i, name in enumerate(self.items)}

    @cached_property
    def _amenity_ids(self) -> dict[str, int]:
        return {name.lower(): i for i, name in enumerate(self.amenities)}


@dataclass(frozen=True)
class Customer:
    """A consumer an assistant buys for: its order, required amenities, values and budget."""

    index: int
    name: str
    request: str
    items: tuple[int, ...]
    amenities: tuple[int, ...]
    values: tuple[float, ...]
    budget: float

    @property
    def value(self) -> float:
        """V: the customer's total value for its order (the sum of its items' mean prices)."""
        return float(sum(self.values))

    @property
    def agent(self) -> str:
        return f"customer_{self.index}"


@dataclass(frozen=True)
class Business:
    """A service: its listing (name, description, rating, menu with list prices, amenities).

    ``progenitor`` is the customer it was generated for (-1 for none); ``min_price_factor`` sets
    the negotiation floor ``min_price_factor * list price`` per item.
    """

    index: int
    name: str
    description: str
    rating: float
    menu: Mapping[int, float]
    amenities: frozenset[int]
    progenitor: int
    min_price_factor: float

    @property
    def agent(self) -> str:
        return f"business_{self.index}"

    def carries(self, items: tuple[int, ...] | list[int]) -> bool:
        """Whether every item in ``items`` is on the menu."""
        menu = self.menu
        return all(item in menu for item in items)

    def has_amenities(self, amenities: tuple[int, ...] | list[int]) -> bool:
        return all(a in self.amenities for a in amenities)

    def order_price(self, items: tuple[int, ...] | list[int]) -> float:
        """The list price of one of each item (``inf`` when an item is not on the menu)."""
        menu = self.menu
        total = 0.0
        for item in items:
            price = menu.get(item)
            if price is None:
                return float("inf")
            total += price
        return total

    def floor(self, item: int) -> float:
        """The lowest unit price the business accepts for ``item`` when negotiating."""
        return self.min_price_factor * self.menu[item]


@dataclass(frozen=True)
class Market:
    """One generated market. ``condition`` names the manipulation applied to ``manipulator``'s
    description (``control`` and -1 when none)."""

    domain: Domain
    customers: tuple[Customer, ...]
    businesses: tuple[Business, ...]
    seed: int
    design: str = "progenitor"
    condition: str = "control"
    manipulator: int = -1

    @property
    def scale(self) -> str:
        return f"{len(self.customers)}/{len(self.businesses)}"

    def feasible(self, customer: Customer, business: Business) -> bool:
        """Whether ``business`` can satisfy ``customer``: every item and every amenity."""
        return business.carries(customer.items) and business.has_amenities(customer.amenities)
