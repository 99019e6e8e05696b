"""How the marketplace reads and carries out one action: its kind and fields checked against the
action space, then search, message, propose or pay, or the reason it is rejected (a part of
`envs.marketplace.env.MarketplaceEnv`, which holds the state they change)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Box

from envs.core.spaces import normalize_text
from envs.marketplace.actions import END, KINDS, MESSAGE, PAY, PROPOSE, SEARCH, WAIT
from envs.marketplace.ledger import Rejected
from envs.marketplace.markets import review_of
from envs.marketplace.outcomes import satisfies
from envs.marketplace.params import ALGORITHMS
from envs.marketplace.spaces import QUERY_CHARS, TEXT_CHARS
from envs.marketplace.world import Message, Shop, Shopper, Trader


class Acting:
    """The action handlers of `MarketplaceEnv` (they read and change its episode state)."""

    def _kind_of(self, agent: str, action: Any) -> int:
        if action is None:
            return WAIT
        try:
            kind = action["kind"]
        except (TypeError, KeyError, IndexError):
            raise ValueError(f"{agent}: action {action!r} is not in {self._action_space}") from None
        if not self._action_space["kind"].contains(kind):
            raise ValueError(f"{agent}: kind {kind!r} is not in {self._action_space['kind']}")
        return int(kind)

    def _field(self, trader: Trader, action: dict[str, Any], name: str) -> Any:
        """One action field, checked against its space (ValueError naming agent and space)."""
        if name not in action:
            raise ValueError(
                f"{trader.name}: action kind {KINDS[int(action['kind'])]} needs {name!r}"
            )
        value = action[name]
        space = self._action_space[name]
        if isinstance(space, Box):
            value = np.asarray(value, dtype=space.dtype)
            if value.shape != space.shape and value.size == 1 and space.shape == (1,):
                value = value.reshape(1)
        if not space.contains(value):
            raise ValueError(f"{trader.name}: {name}={action[name]!r} is not in {space}")
        return value

    def _act(self, trader: Trader, action: dict[str, Any], rewards: dict[str, float]) -> None:
        """Carry out one non-wait action, or record why it is rejected."""
        world = self.world
        kind = int(action["kind"])
        trader.last_kind = KINDS[kind]
        self._dirty.add(trader)
        try:
            if trader not in self._ready:
                raise Rejected("busy", f"{trader.name} can act again at tick {trader.ready_at}")
            is_customer = isinstance(trader, Shopper)
            if kind == SEARCH and is_customer:
                self._search(trader, action)
            elif kind == MESSAGE:
                self._message(trader, action)
            elif kind == PROPOSE and not is_customer:
                self._propose(trader, action)
            elif kind == PAY and is_customer:
                self._pay(trader, action, rewards)
            elif kind == END and is_customer:
                trader.done = True
            else:
                role = "customers" if is_customer else "businesses"
                raise Rejected("not_allowed_for_role", f"{role} cannot {KINDS[kind]}")
            trader.status, trader.detail = 0, ""
            self.log.append((world.tick, trader.name, KINDS[kind], "ok", ""))
        except Rejected as rejection:
            trader.status = world.ledger.reject(rejection.reason)
            trader.detail = rejection.detail
            world.counters.rejected += 1
            self.log.append(
                (world.tick, trader.name, KINDS[kind], rejection.reason, rejection.detail)
            )
            if trader not in self._ready:
                return
        self._after_action(trader)

    def _search(self, shopper: Shopper, action: dict[str, Any]) -> None:
        world = self.world
        query = normalize_text(self._field(shopper, action, "query"), QUERY_CHARS)
        algorithm = ALGORITHMS[int(self._field(shopper, action, "algorithm"))]
        page = int(self._field(shopper, action, "page"))
        limit = int(self._field(shopper, action, "bandwidth")[0])
        customer = world.market.customers[shopper.index]
        visible = world.visible[shopper.index] if world.visible is not None else None
        try:
            result = self.search_index.search(
                query, algorithm, customer=customer, page=page, limit=limit,
                ratings=world.perceived_ratings(shopper.index), visible=visible,
            )  # fmt: skip
        except (ValueError, RuntimeError) as error:
            raise Rejected("bad_search", str(error)) from None
        shopper.page, shopper.query = result, query
        world.counters.searches += 1

    def _recipients(self, trader: Trader, action: dict[str, Any]) -> list[Trader]:
        targets = [int(t) for t in self._field(trader, action, "to") if t >= 0]
        others = self.world.shops if isinstance(trader, Shopper) else self.world.shoppers
        if not targets:
            raise Rejected("unknown_recipient", "name at least one recipient in 'to'")
        bad = [t for t in targets if t >= len(others)]
        if bad:
            role = "business" if isinstance(trader, Shopper) else "customer"
            raise Rejected("unknown_recipient", f"there is no {role}_{bad[0]}")
        return [others[t] for t in dict.fromkeys(targets)]

    def _message(self, trader: Trader, action: dict[str, Any]) -> None:
        recipients = self._recipients(trader, action)
        text = normalize_text(
            self._field(trader, action, "text") if "text" in action else "", TEXT_CHARS
        )
        items: tuple[int, ...] = ()
        if isinstance(trader, Shopper) and "items" in action:
            items = tuple(
                dict.fromkeys(int(i) for i in self._field(trader, action, "items") if i >= 0)
            )
        if not text.strip() and not items:
            raise Rejected("empty_message", "a message needs text or, from a customer, items")
        message = Message(self.world.tick, trader.name, text, items)
        for recipient in recipients:
            recipient.inbox.append(message)
            if isinstance(recipient, Shop):
                recipient.waiting[trader.index] = message
            self._notify(recipient)
        if isinstance(trader, Shop):
            for recipient in recipients:
                trader.waiting.pop(recipient.index, None)
        self.world.counters.messages += len(recipients)

    def _propose(self, shop: Shop, action: dict[str, Any]) -> None:
        to = self._field(shop, action, "to")
        customer = int(to[0]) if len(to) else -1
        items = self._field(shop, action, "items")
        quantities = self._field(shop, action, "quantities")
        prices = self._field(shop, action, "unit_prices")
        lines = [
            (int(i), int(q), float(u))
            for i, q, u in zip(items, quantities, prices, strict=True)
            if i >= 0
        ]
        total = float(self._field(shop, action, "total")[0])
        expiry = int(self._field(shop, action, "expiry")[0])
        proposal = self.world.ledger.propose(
            shop.index, customer, lines, total, self.world.tick, expiry
        )
        shop.waiting.pop(customer, None)
        shopper = self.world.shoppers[customer]
        note = normalize_text(action.get("text", ""), TEXT_CHARS).strip()
        if note:
            shopper.inbox.append(
                Message(self.world.tick, shop.name, f"(proposal #{proposal.id}) {note}")
            )
        self._notify(shopper)

    def _pay(self, shopper: Shopper, action: dict[str, Any], rewards: dict[str, float]) -> None:
        world = self.world
        proposal_id = int(self._field(shopper, action, "proposal")[0])
        amount = float(self._field(shopper, action, "total")[0])
        payment = world.ledger.pay(shopper.index, proposal_id, amount, world.tick)
        proposal = world.ledger.proposals[proposal_id]
        rewards[shopper.name] -= payment.amount
        self._paid[shopper.index] += 1
        self._receipts[shopper.index].append(payment)
        self._sold[proposal.business] += 1
        if not self._first_paid[shopper.index] and satisfies(world.market, proposal):
            self._first_paid[shopper.index] = True
            rewards[shopper.name] += 2.0 * world.market.customers[shopper.index].value
        shop = world.shops[proposal.business]
        rewards[shop.name] += payment.amount
        self._dirty.add(shop)
        stars, words = review_of(world.market, proposal)
        world.review(shopper.index, proposal.business, stars, words)
