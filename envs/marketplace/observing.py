"""How the marketplace forms an agent's observation and info: its role's structured fields,
the detail fields and the protocol's text view (a part of `envs.marketplace.env.MarketplaceEnv`,
whose episode state they read)."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.core.protocol import with_text
from envs.marketplace.ledger import REASONS, Proposal
from envs.marketplace.market import Customer
from envs.marketplace.spaces import (
    BUSINESS,
    CUSTOMER,
    MAX_ORDER_AMENITIES,
    MAX_ORDER_ITEMS,
    VIEW_CHARS,
)
from envs.marketplace.world import Shop, Shopper, Trader


class Observing:
    """The observation builders of `MarketplaceEnv` (they read its episode state)."""

    def _refresh(self, traders: Any) -> None:
        for trader in traders:
            if isinstance(trader, Shopper):
                self._observations[trader.name] = self._customer_observation(trader)
            else:
                self._observations[trader.name] = self._business_observation(trader)

    def _mask(self, trader: Trader) -> tuple[np.ndarray, dict[str, Any]]:
        if trader not in self._ready:
            return self._masks["busy"]
        if isinstance(trader, Shop):
            return self._masks["business"]
        if self.world.ledger.live_for(trader.index, self.world.tick):
            return self._masks["customer_pay"]
        return self._masks["customer"]

    def _info(self, trader: Trader, mask: dict[str, Any]) -> dict[str, Any]:
        return {
            "action_mask": mask,
            "last_action": {
                "kind": trader.last_kind,
                "status": REASONS[trader.status],
                "detail": trader.detail,
            },
        }

    def _order_fields(self, customer: Customer) -> tuple[np.ndarray, np.ndarray]:
        cached = self._order_cache.get(customer.index)
        if cached is None:
            items = np.full(MAX_ORDER_ITEMS, -1, dtype=np.int64)
            items[: len(customer.items)] = customer.items
            amenities = np.full(MAX_ORDER_AMENITIES, -1, dtype=np.int64)
            amenities[: len(customer.amenities)] = customer.amenities
            items.flags.writeable = amenities.flags.writeable = False
            cached = (items, amenities)
            self._order_cache[customer.index] = cached
        return cached

    def _customer_observation(self, shopper: Shopper) -> dict[str, Any]:
        world = self.world
        market = world.market
        customer = market.customers[shopper.index]
        mask, mask_dict = self._mask(shopper)
        live = world.ledger.live_for(shopper.index, world.tick)
        obs = self._common(shopper, mask, world.ledger.budget_left[shopper.index])
        obs["paid"] = np.array([self._paid[shopper.index]], dtype=np.int64)
        obs["request_items"], obs["request_amenities"] = self._order_fields(customer)
        obs.update(self._result_fields(shopper, customer))
        obs.update(self._proposal_fields(live, customer))
        for name in ("inquiries", "inquiry_items", "inquiry_prices", "floor_factor"):
            obs[name] = self._empty[name]
        obs.update(self._details.customer(market, shopper, live, self._receipts[shopper.index]))
        self._infos[shopper.name] = self._info(shopper, mask_dict)
        return self._with_text(shopper, obs)

    def _business_observation(self, shop: Shop) -> dict[str, Any]:
        world = self.world
        mask, mask_dict = self._mask(shop)
        revenue = self._revenue_before[shop.index] + world.ledger.revenue[shop.index]
        obs = self._common(shop, mask, revenue)
        obs["paid"] = np.array([self._sold[shop.index]], dtype=np.int64)
        empty = self._empty
        for name in (
            "request_items", "request_amenities", "results", "result_prices", "result_amenities",
            "proposals", "proposal_businesses", "proposal_totals", "proposal_covers",
            "proposal_expires",
        ):  # fmt: skip
            obs[name] = empty[name]
        q = self.params.max_inquiries
        waiting = sorted(shop.waiting.items(), key=lambda pair: (pair[1].tick, pair[0]))[:q]
        if waiting:
            menu = world.market.businesses[shop.index].menu
            inquiries = np.full(q, -1, dtype=np.int64)
            items = np.full((q, MAX_ORDER_ITEMS), -1, dtype=np.int64)
            prices = np.full((q, MAX_ORDER_ITEMS), -1.0, dtype=np.float64)
            for row, (customer, message) in enumerate(waiting):
                inquiries[row] = customer
                for col, item in enumerate(message.items[:MAX_ORDER_ITEMS]):
                    items[row, col] = item
                    prices[row, col] = menu.get(item, -1.0)
            obs["inquiries"], obs["inquiry_items"], obs["inquiry_prices"] = inquiries, items, prices
        else:
            for name in ("inquiries", "inquiry_items", "inquiry_prices"):
                obs[name] = empty[name]
        obs["floor_factor"] = self._floor_factors[shop.index]
        obs.update(self._details.business(shop, waiting))
        self._infos[shop.name] = self._info(shop, mask_dict)
        return self._with_text(shop, obs)

    def _with_text(self, trader: Trader, obs: dict[str, Any]) -> dict[str, Any]:
        """``obs`` with the trader's last messages and last action, and its ``text``: the
        protocol's view of the structured fields, or "" without `text_observations`."""
        obs.update(self._details.common(trader))
        enabled = self.params.text_observations
        return with_text(obs, self.protocol, trader.name, enabled, VIEW_CHARS)

    def _common(self, trader: Trader, mask: np.ndarray, budget: float) -> dict[str, Any]:
        world = self.world
        return {
            "role": CUSTOMER if isinstance(trader, Shopper) else BUSINESS,
            "day": world.day,
            "tick": np.array([world.tick], dtype=np.int64),
            "ready": int(trader in self._ready),
            "status": trader.status,
            "kind_mask": mask,
            "budget": np.array([budget], dtype=np.float64),
            "search_algorithm": self._algorithm,
            "search_bandwidth": self._empty["search_bandwidth"],
        }

    def _result_fields(self, shopper: Shopper, customer: Customer) -> dict[str, np.ndarray]:
        page = shopper.page
        empty = self._empty
        if page is None or not page.businesses:
            return {
                "results": empty["results"],
                "result_prices": empty["result_prices"],
                "result_amenities": empty["result_amenities"],
            }
        k = self.params.max_bandwidth
        results = np.full(k, -1, dtype=np.int64)
        prices = np.full(k, -1.0, dtype=np.float64)
        amenities = np.zeros(k, dtype=np.int8)
        businesses = self.world.market.businesses
        for slot, b in enumerate(page.businesses[:k]):
            business = businesses[b]
            results[slot] = b
            price = business.order_price(customer.items)
            prices[slot] = price if price != float("inf") else -1.0
            amenities[slot] = business.has_amenities(customer.amenities)
        return {"results": results, "result_prices": prices, "result_amenities": amenities}

    def _proposal_fields(self, live: list[Proposal], customer: Customer) -> dict[str, np.ndarray]:
        empty = self._empty
        if not live:
            return {
                name: empty[name]
                for name in (
                    "proposals", "proposal_businesses", "proposal_totals", "proposal_covers",
                    "proposal_expires",
                )
            }  # fmt: skip
        n = self.params.max_proposals
        shown = live[:n]
        ids = np.full(n, -1, dtype=np.int64)
        businesses = np.full(n, -1, dtype=np.int64)
        totals = np.zeros(n, dtype=np.float64)
        covers = np.zeros(n, dtype=np.int8)
        expires = np.zeros(n, dtype=np.int64)
        for slot, proposal in enumerate(shown):
            ids[slot] = proposal.id
            businesses[slot] = proposal.business
            totals[slot] = proposal.total
            covers[slot] = proposal.covers(customer.items)
            expires[slot] = proposal.expires
        return {
            "proposals": ids,
            "proposal_businesses": businesses,
            "proposal_totals": totals,
            "proposal_covers": covers,
            "proposal_expires": expires,
        }
