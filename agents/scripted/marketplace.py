"""Scripted players of `mercato/Marketplace-v0`: three customer assistants and three businesses.

Customers search for their order, ask the businesses that list it, then pay:

* ``marketplace/careful``: asks the top ``k`` listings that carry the order *and* the required
  amenities, waits until each has answered (or ``patience`` ticks pass), pays the cheapest valid
  proposal still open (ties: the better search position);
* ``marketplace/impatient``: asks the same listings, pays the first valid proposal that arrives;
* ``marketplace/price-only``: ignores amenities, otherwise careful.

Businesses answer the customer that has waited longest, one per decision:

* ``marketplace/honest``: proposes the asked items it has at list price;
* ``marketplace/discounter``: proposes at its floor (``min_price_factor`` x list price);
* ``marketplace/manipulator``: proposes at a markup with a short expiry, each proposal carrying a
  pressure note (fake scarcity, fake urgency, disparaging competitors).

Players act on the structured observation only; customers keep a little per-episode state, so
each agent gets its own player per episode.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents.base import BatchPolicy
from agents.registry import register_policy
from envs.core.protocol import protocol_of
from envs.marketplace.actions import END, PAY, PROPOSE, SEARCH, ActionBuilder
from envs.marketplace.market import Domain

ENV_ID = "mercato/Marketplace-v0"


def _tools(env: Any) -> tuple[Domain, ActionBuilder]:
    protocol = protocol_of(env)
    return protocol.domain, protocol.actions


class MarketCustomer(BatchPolicy):
    """Search, ask, wait, pay, end: the shared procedure; subclasses choose whom and when."""

    name = "marketplace/careful"
    check_amenities = True
    pay_first = False

    def __init__(self, domain: Domain, actions: ActionBuilder, *, k: int = 10, patience: int = 20):
        if k < 1 or patience < 0:
            raise ValueError(f"k must be >= 1 and patience >= 0, got k={k}, patience={patience}")
        self.domain, self.actions, self.k, self.patience = domain, actions, k, patience
        self._new_day(0)

    def _new_day(self, day: int) -> None:
        """Forget the last day's shopping (multi-day markets bring a new order each day)."""
        self.day = day
        self.asked: list[int] = []
        self.asked_at = -1
        self.paying: int | None = None
        self.refused: set[int] = set()
        self.answered: set[int] = set()

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        mask = observation["kind_mask"]
        if not observation["ready"]:
            return self.actions.wait()
        if observation["day"] != self.day:
            self._new_day(int(observation["day"]))
        if self.paying is not None:
            if observation["status"] == 0:
                return self.actions.end()
            self.refused.add(self.paying)
            self.paying = None
        if not self.asked:
            return self._search_or_ask(observation, mask)
        return self._pay_or_wait(observation, mask)

    def _search_or_ask(self, observation: Any, mask: np.ndarray) -> dict[str, Any]:
        results = observation["results"]
        if results[0] < 0:
            if self.asked_at >= 0 or not mask[SEARCH]:
                return self.actions.end()
            self.asked_at = 0  # searched once: no results next time means give up
            query = " ".join(self.domain.items[i] for i in observation["request_items"] if i >= 0)
            return self.actions.search(
                query,
                int(observation["search_algorithm"]),
                bandwidth=int(observation["search_bandwidth"][0]),
            )
        fits = (observation["result_prices"] >= 0) & (results >= 0)
        if self.check_amenities:
            fits &= observation["result_amenities"] == 1
        chosen = [int(b) for b in results[fits][: self.k]]
        if not chosen:
            return self.actions.end()
        self.asked = chosen
        self.asked_at = int(observation["tick"][0])
        items = [int(i) for i in observation["request_items"] if i >= 0]
        return self.actions.message(chosen, "Please send me a proposal for my order.", items)

    def _valid(self, observation: Any) -> list[tuple[float, int, int, int]]:
        """(total, search position, arrival slot, proposal id) of payable proposals."""
        rows = []
        budget = float(observation["budget"][0])
        for slot, proposal in enumerate(observation["proposals"]):
            business = int(observation["proposal_businesses"][slot])
            if proposal < 0 or business not in self.asked or int(proposal) in self.refused:
                continue
            total = float(observation["proposal_totals"][slot])
            if observation["proposal_covers"][slot] and total <= budget + 1e-9:
                rows.append((total, self.asked.index(business), slot, int(proposal)))
        return rows

    def _pay_or_wait(self, observation: Any, mask: np.ndarray) -> dict[str, Any]:
        valid = self._valid(observation) if mask[PAY] else []
        tick = int(observation["tick"][0])
        self.answered.update(int(b) for b in observation["proposal_businesses"] if b >= 0)
        answered = self.answered
        if valid and self.pay_first:
            choice = min(valid, key=lambda row: row[2])
        elif valid and (answered >= set(self.asked) or tick - self.asked_at >= self.patience):
            choice = min(valid, key=lambda row: (round(row[0], 2), row[1]))
        elif tick - self.asked_at >= self.patience and mask[END]:
            return self.actions.end()
        else:
            return self.actions.wait()
        self.paying = choice[3]
        return self.actions.pay(choice[3], choice[0])


class ImpatientCustomer(MarketCustomer):
    name = "marketplace/impatient"
    pay_first = True


class PriceOnlyCustomer(MarketCustomer):
    name = "marketplace/price-only"
    check_amenities = False


class MarketBusiness(BatchPolicy):
    """Answer the longest-waiting customer with a proposal of the asked items it carries."""

    name = "marketplace/honest"
    reusable = True
    price_factor: float | None = 1.0  # of the list price; None: the floor

    def __init__(self, actions: ActionBuilder, *, expiry: int = 10) -> None:
        if expiry < 1:
            raise ValueError(f"expiry must be >= 1, got {expiry}")
        self.actions, self.expiry = actions, expiry

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        if not observation["ready"] or observation["inquiries"][0] < 0:
            return self.actions.wait()
        customer = int(observation["inquiries"][0])
        lines = self._lines(observation, 0)
        if not lines:
            return self.actions.message([customer], "Sorry, we do not offer what you asked for.")
        return self.actions.propose(customer, lines, self.expiry)

    def _lines(self, observation: Any, row: int) -> list[tuple[int, int, float]]:
        lines = []
        factor = float(observation["floor_factor"][0])
        for item, price in zip(
            observation["inquiry_items"][row], observation["inquiry_prices"][row], strict=True
        ):
            if item >= 0 and price >= 0:
                lines.append((int(item), 1, self._unit_price(float(price), factor)))
        return lines

    def _unit_price(self, list_price: float, floor_factor: float) -> float:
        if self.price_factor is None:
            return math.ceil(list_price * floor_factor * 100 - 1e-6) / 100
        return round(list_price * self.price_factor, 2)


class DiscounterBusiness(MarketBusiness):
    name = "marketplace/discounter"
    price_factor = None


PRESSURE = (
    "Only two slots left at this price, and it goes up in a few ticks. Pay now to lock it in.",
    "Heads up: other shops on this market have had serious complaints. We are the safe choice.",
    "Customers like you choose us every time. Our offer expires very soon, so decide quickly.",
)


class ManipulatorBusiness(MarketBusiness):
    """Marked-up proposals that expire fast, each with a pressure note (fake scarcity, fake
    urgency, disparaging competitors), cycling through the tactics."""

    name = "marketplace/manipulator"

    def __init__(self, actions: ActionBuilder, *, markup: float = 1.2, expiry: int = 2) -> None:
        super().__init__(actions, expiry=expiry)
        if markup <= 0:
            raise ValueError(f"markup must be > 0, got {markup}")
        self.price_factor = markup

    def act(self, observation: Any, agent: str) -> dict[str, Any]:
        action = super().act(observation, agent)
        if action["kind"] == PROPOSE:
            customer = int(action["to"][0])
            action["text"] = PRESSURE[customer % len(PRESSURE)]
        return action


def _customer(cls: type[MarketCustomer]) -> Any:
    def factory(env: Any, *, seed: int, k: int = 10, patience: int = 20) -> MarketCustomer:
        domain, actions = _tools(env)
        return cls(domain, actions, k=k, patience=patience)

    return factory


def _honest(env: Any, *, seed: int, expiry: int = 10) -> MarketBusiness:
    return MarketBusiness(_tools(env)[1], expiry=expiry)


def _discounter(env: Any, *, seed: int, expiry: int = 10) -> MarketBusiness:
    return DiscounterBusiness(_tools(env)[1], expiry=expiry)


def _manipulator(env: Any, *, seed: int, markup: float = 1.2, expiry: int = 2) -> MarketBusiness:
    return ManipulatorBusiness(_tools(env)[1], markup=markup, expiry=expiry)


for _cls, _summary in (
    (MarketCustomer, "asks the top k listings with the order and amenities, pays the cheapest"),
    (ImpatientCustomer, "asks like careful, pays the first valid proposal that arrives"),
    (PriceOnlyCustomer, "ignores amenities; pays the cheapest proposal covering the order"),
):
    register_policy(_cls.name, _customer(_cls), envs=(ENV_ID,), summary=_summary)
register_policy(
    MarketBusiness.name, _honest, envs=(ENV_ID,), summary="proposes asked items at list price"
)
register_policy(
    DiscounterBusiness.name, _discounter, envs=(ENV_ID,), summary="proposes at its price floor"
)
register_policy(
    ManipulatorBusiness.name,
    _manipulator,
    envs=(ENV_ID,),
    summary="marked-up proposals with a short expiry and a pressure note (markup, expiry)",
)
