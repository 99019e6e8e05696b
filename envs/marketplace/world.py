"""The marketplace world as a Mesa model on a networkx graph.

Customers (`Shopper`) and businesses (`Shop`) are Mesa agents holding their per-episode state: the
simulated clock (latency, when they can act next, whether they sleep until something arrives),
their inboxes and what they last did. The graph holds who can reach whom: social ties between
customers (a seeded Watts-Strogatz small world) over which reviews travel, and, when
``visibility`` is set, which businesses each customer can find at all. Mesa's DataCollector
records the market's time series, one row per tick.

Reviews (beyond the reference, whose ratings are all 1.0): after paying, a customer rates the
business 1-5 stars with a short review. What a customer perceives of a business's rating is a
Bayesian average of its market rating (weight 1) and the stars of reviews written by itself and
the customers within ``review_hops`` social hops, so word of mouth steers later searches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mesa
import networkx as nx
import numpy as np

from envs.core.seeding import derive_seed
from envs.marketplace.ledger import Ledger
from envs.marketplace.market import Market

PRIOR_WEIGHT = 1.0


@dataclass(frozen=True)
class Message:
    """A delivered text message (``items``: item ids it asks about, possibly none)."""

    tick: int
    sender: str
    text: str
    items: tuple[int, ...] = ()


@dataclass(frozen=True)
class Review:
    """What a customer wrote about a business after paying it."""

    day: int
    customer: int
    business: int
    stars: int
    text: str


class Trader(mesa.Agent):
    """What customers and businesses share: the clock, an inbox, and the last action's outcome."""

    def __init__(self, model: MarketWorld, index: int, name: str, latency: int) -> None:
        super().__init__(model)
        self.index = index
        self.name = name
        self.latency = latency
        self.ready_at = 0
        self.asleep = False
        self.wake_at = -1
        self.inbox: list[Message] = []
        self.status = 0
        self.detail = ""
        self.last_kind = "none"


class Shopper(Trader):
    """A customer's assistant: its search results, and whether it has finished for the day."""

    def __init__(self, model: MarketWorld, index: int, latency: int) -> None:
        super().__init__(model, index, f"customer_{index}", latency)
        self.done = False
        self.page: Any = None
        self.query = ""


class Shop(Trader):
    """A business: the customers waiting for an answer (latest inquiry each)."""

    def __init__(self, model: MarketWorld, index: int, latency: int) -> None:
        super().__init__(model, index, f"business_{index}", latency)
        self.asleep = True
        self.waiting: dict[int, Message] = {}


@dataclass
class Counters:
    """Running totals the DataCollector reports each tick."""

    searches: int = 0
    messages: int = 0
    rejected: int = 0
    decisions: int = 0


class MarketWorld(mesa.Model):
    """One episode's world: the market, its agents, the ledger, the graph and the reviews."""

    def __init__(
        self,
        market: Market,
        customer_latency: np.ndarray,
        business_latency: np.ndarray,
        *,
        seed: int,
        social_degree: int = 4,
        review_hops: int = 1,
        visibility: int = 0,
    ) -> None:
        super().__init__(seed=seed)
        self.market = market
        self.tick = 0
        self.day = 0
        self.ledger = Ledger(market)
        self.counters = Counters()
        self.shoppers = [
            Shopper(self, i, int(latency)) for i, latency in enumerate(customer_latency)
        ]
        self.shops = [Shop(self, j, int(latency)) for j, latency in enumerate(business_latency)]
        self.graph = self._graph(seed, social_degree, visibility)
        self.review_hops = review_hops
        self.reviews: list[Review] = []
        self._heard: dict[int, dict[int, tuple[float, int]]] = {}
        self._circles: dict[int, list[int]] = {}
        self.visible = self._visible_sets() if visibility else None
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "tick": "tick",
                "day": "day",
                "active_customers": lambda m: sum(not s.done for s in m.shoppers),
                "searches": lambda m: m.counters.searches,
                "messages": lambda m: m.counters.messages,
                "proposals": lambda m: len(m.ledger.proposals),
                "payments": lambda m: len(m.ledger.payments),
                "revenue": lambda m: float(sum(m.ledger.revenue)),
                "rejected": lambda m: m.counters.rejected,
                "decisions": lambda m: m.counters.decisions,
            }
        )

    # The graph ----------------------------------------------------------------------------------

    def _graph(self, seed: int, degree: int, visibility: int) -> nx.Graph:
        """Customers and businesses as nodes; social ties between customers; optionally the
        businesses each customer can see (its generating businesses plus ``visibility`` drawn
        at random)."""
        n = len(self.shoppers)
        degree = min(degree, n - 1)
        if degree >= 2:
            ties = nx.watts_strogatz_graph(n, degree, 0.1, seed=derive_seed(seed, "social"))
        else:
            ties = nx.empty_graph(n)
        graph = nx.Graph()
        graph.add_nodes_from((s.name for s in self.shoppers), role="customer")
        graph.add_nodes_from((s.name for s in self.shops), role="business")
        graph.add_edges_from(
            (f"customer_{a}", f"customer_{b}", {"kind": "social"}) for a, b in ties.edges
        )
        self.friends = [sorted(ties.neighbors(c)) for c in range(n)]
        if visibility:
            rng = np.random.default_rng(derive_seed(seed, "visibility"))
            own: dict[int, list[int]] = {}
            for business in self.market.businesses:
                own.setdefault(business.progenitor, []).append(business.index)
            n_businesses = len(self.shops)
            for shopper in self.shoppers:
                seen = set(own.get(shopper.index, []))
                seen.update(int(b) for b in rng.choice(n_businesses, visibility, replace=False))
                graph.add_edges_from(
                    (shopper.name, f"business_{b}", {"kind": "visible"}) for b in sorted(seen)
                )
        return graph

    def _visible_sets(self) -> list[np.ndarray]:
        graph = self.graph
        sets = []
        for shopper in self.shoppers:
            seen = [
                int(other.rpartition("_")[2])
                for other, data in graph[shopper.name].items()
                if data["kind"] == "visible"
            ]
            sets.append(np.array(sorted(seen), dtype=np.int64))
        return sets

    def circle(self, customer: int) -> list[int]:
        """The customers within ``review_hops`` social hops of ``customer`` (itself included)."""
        cached = self._circles.get(customer)
        if cached is None:
            reach, frontier = {customer}, [customer]
            for _ in range(self.review_hops):
                frontier = [n for c in frontier for n in self.friends[c] if n not in reach]
                reach.update(frontier)
            cached = sorted(reach)
            self._circles[customer] = cached
        return cached

    # Reviews ------------------------------------------------------------------------------------

    def review(self, customer: int, business: int, stars: int, text: str) -> Review:
        """Record a review and let it reach the reviewer's social circle."""
        review = Review(self.day, customer, business, stars, text)
        self.reviews.append(review)
        for other in self.circle(customer):
            heard = self._heard.setdefault(other, {})
            total, count = heard.get(business, (0.0, 0))
            heard[business] = (total + stars / 5.0, count + 1)
        return review

    def perceived_ratings(self, customer: int) -> Mapping[int, float] | None:
        """The ratings this customer sees where reviews reached it (None when none did)."""
        heard = self._heard.get(customer)
        if not heard:
            return None
        businesses = self.market.businesses
        return {
            b: (PRIOR_WEIGHT * businesses[b].rating + total) / (PRIOR_WEIGHT + count)
            for b, (total, count) in heard.items()
        }
