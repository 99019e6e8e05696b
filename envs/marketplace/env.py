"""`mercato/Marketplace-v0`: assistants buy for customers from businesses (PettingZoo Parallel)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete
from pettingzoo import ParallelEnv

from envs.core.params import keyword_signature
from envs.core.seeding import child_rng, derive_seed, make_rng
from envs.core.spaces import FreeText, normalize_text
from envs.core.turns import read_only
from envs.marketplace.actions import (
    END,
    KINDS,
    MESSAGE,
    PAY,
    PROPOSE,
    SEARCH,
    WAIT,
    ActionBuilder,
)
from envs.marketplace.baselines import optimal_welfare
from envs.marketplace.generator import build_market
from envs.marketplace.ledger import REASONS, Ledger, Proposal, Rejected
from envs.marketplace.market import Customer, Market
from envs.marketplace.outcomes import (
    customer_utilities,
    market_metrics,
    merge_days,
    satisfies,
)
from envs.marketplace.params import ALGORITHMS, MarketParams, design_size, draw_latencies
from envs.marketplace.protocol import MarketplaceProtocol
from envs.marketplace.search import SearchIndex
from envs.marketplace.views import DetailFields
from envs.marketplace.world import MarketWorld, Message, Shop, Shopper, Trader

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


@functools.lru_cache(maxsize=4)
def market_bundle(
    design: str, n_customers: int, domain: str, seed: int, condition: str, manipulator: int
) -> tuple[Market, SearchIndex, float]:
    """A market with its search index and optimal welfare, built once per configuration.

    A plain progenitor market under the control condition has no manipulator (-1); the study
    designs keep theirs under control too, as the baseline of its payments."""
    if design == "progenitor" and condition == "control":
        manipulator = -1
    market = build_market(
        design, n_customers, domain, seed, condition=condition, manipulator=manipulator
    )
    return market, SearchIndex(market), optimal_welfare(market)


def day_market(market: Market, day: int, seed: int) -> Market:
    """Day ``day``'s demand (multi-day mode): every customer takes over another customer's order,
    by a seeded permutation, so each order still has the businesses generated for it. Budgets keep
    their ratio to value."""
    if day == 0:
        return market
    order = child_rng(seed, "demand", day).permutation(len(market.customers))
    customers = []
    for customer, source in zip(market.customers, order, strict=True):
        other = market.customers[int(source)]
        ratio = customer.budget / customer.value if customer.value else 1.0
        customers.append(
            dataclasses.replace(
                other, index=customer.index, name=customer.name, budget=ratio * other.value
            )
        )
    return dataclasses.replace(market, customers=tuple(customers))


def review_of(market: Market, proposal: Proposal) -> tuple[int, str]:
    """A customer's stars and words after paying: 1 when the purchase missed its needs, else 5
    less one star per 10% paid above its value (at least 2)."""
    customer = market.customers[proposal.customer]
    if not satisfies(market, proposal):
        return 1, "Did not get what I needed here."
    over = (proposal.total - customer.value) / customer.value if customer.value else 0.0
    stars = int(max(2, 5 - max(0, int(over * 10 + 0.5))))
    words = {5: "Exactly what I asked for, fair price.", 4: "Good, a little pricey."}
    return stars, words.get(stars, "Got my order but paid too much.")


class MarketplaceEnv(ParallelEnv):
    """A two-sided market: assistants buy for customers from businesses, tick by tick.

    ## Description
    The agentic marketplace of Magentic Marketplace (Bansal et al. 2025, arXiv 2510.25779) as a
    discrete-time, seeded environment. Customer assistants search the businesses, message them,
    receive order proposals and pay; businesses answer with messages and proposals. A simulated
    clock replaces wall-clock polling: each step is one tick and every agent has a response
    latency in ticks, so speed-versus-quality effects (first-proposal bias) are controlled,
    replayable variables. A ledger enforces what the reference left open (proposal validity,
    payments that match a live proposal addressed to the payer, no double payment, budgets).
    The world is a Mesa model on a networkx graph (`envs.marketplace.world`); with `days` > 1
    each day brings new demand and customers' reviews travel over their social ties into later
    searches.

    ## Agents
    `customer_<i>` (assistants, one per customer) and `business_<j>`. All live agents act every
    step; an agent that is not `ready` (still "thinking" for its latency, or asleep after a wait
    until something arrives or `wait_ticks` pass) may only wait: anything else is rejected with
    status `busy`. A customer finishes with `end`; businesses finish when every customer has.

    ## Observation space
    One `Dict` for all agents (fields of the other role are -1/0): `role` (0 customer, 1
    business), `day`, `tick` (`Box (1,)`, when this observation was formed: an agent that is
    neither ready nor touched by an event keeps its last observation object), `ready`, `status`
    (outcome of the agent's last action: 0 ok, else an index into `ledger.REASONS`), `kind_mask`
    (`Box(0, 1, (6,), int8)`: the kinds allowed now; also `info["action_mask"]["kind"]`),
    `budget` (customer: budget left; business: revenue), `paid` (customer: payments made today;
    business: payments received), `request_items` (3), `request_amenities`
    (2), the market's `search_algorithm` and `search_bandwidth`, the latest search page
    `results` / `result_prices` (price of the customer's order there, -1 when an item is missing)
    / `result_amenities` (1 when all required amenities are listed), open proposals `proposals`
    (ids) / `proposal_businesses` / `proposal_totals` / `proposal_covers` / `proposal_expires`,
    a business's waiting customers `inquiries` / `inquiry_items` / `inquiry_prices` (Q x 3: the
    asked items and their list prices there, -1 when not on the menu) and its `floor_factor`; the
    detail fields the text view is rendered from (`envs.marketplace.views`: a customer's
    `request`, its last search's `search_query` and `search_page` (algorithm, page, total; -1
    before any) with each hit's name, description, rating, prices of the order's items, other
    items and amenities, the open proposals' lines, its `payments`; a business's own name,
    description, menu and amenities and its inquiries' ticks and texts; both: the last
    `messages` received with their ticks and senders, `inbox_size`, `last_kind` and `detail` of
    the last action); and `text` (`FreeText`): the bounded text view for LLM players, rendered by
    the text protocol from the other fields (empty when `text_observations` is false). Arrays
    shared between observations are read-only.

    ## Action space
    One `Dict`: `kind` (`Discrete(6)`: wait, search, message, propose, pay, end) and its fields.
    search: `query`, `algorithm` (`Discrete(5)`: simple, lexical, perfect, perfect_items,
    semantic), `page`, `bandwidth` (results per page, 1..`max_bandwidth`). message: `to` (up to
    `max_bandwidth` recipient indices, -1 padding: businesses for a customer, customers for a
    business), `text`, and for a customer's inquiry the `items` it asks about. propose (business):
    `to[0]` the customer, lines from `items` / `quantities` / `unit_prices` (-1 item = unused
    line), `total`, `expiry` (ticks), and `text`, an optional note delivered with it. pay
    (customer): `proposal` id and `total` (must equal the proposal's total). end (customer):
    finish. The sender is always the acting agent.

    ## Rewards
    Customers: -amount at each payment and +2V at the first payment that satisfies the order (all
    items from a business with every required amenity), so an episode return is the reference's
    utility (2V - P or -P). Businesses: the amounts they are paid (revenue).

    ## Episode end
    Terminated when every customer has ended on the last day; truncated at `max_ticks` per day.

    ## Parameters
    `n_customers` (1..10,000; businesses are 3x) or a study `design` (progenitor, malicious 1/3,
    competitive 3/3, identical 1/3), `domain` (restaurants, contractors), `condition`
    (manipulation of business `manipulator`'s description), `market_seed` (a fixed market; None
    draws one from each reset seed), `max_ticks`, `customer_latency` / `business_latency` (int,
    {low, high} or a list per agent), `search_algorithm` (simple, lexical, perfect,
    perfect_items, semantic), `search_bandwidth` (results per search; None: `max_bandwidth`),
    `max_bandwidth`, `max_proposals`, `max_inquiries`,
    `max_lines`, `wait_ticks`, `text_observations`, `untrusted_text` ("plain": other agents'
    texts pasted into a view as written, the reference's no-defence condition; "delimited":
    between tags naming their author, which the text protocol's instructions explain), `days`,
    `social_degree`, `review_hops`, `visibility` (0: every business visible; k: own businesses
    plus k random ones), `render_mode` (None or "ansi").

    ## Metrics
    `info["metrics"]` at the end: welfare, optimal_welfare, welfare_ratio, purchases,
    purchase_completion, satisfied_rate, proposals, proposal_errors, payment_errors,
    rejected_actions, first_proposal_rate, mean_paid_rank, manipulator_payments /
    manipulator_revenue / manipulator_share, price_dispersion, hhi, revenue, ticks, days,
    reviews, and with `days` > 1 `welfare_day_<d>` (the other metrics then merge the days: counts
    add up, rates are averaged).

    ## Version history
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "marketplace_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": True,
    }
    idle_action: ClassVar[dict[str, Any]] = {"kind": WAIT}

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.params = MarketParams.checked(**params)
        p = self.params
        self.n_customers, self.n_businesses = design_size(p.design, p.n_customers)
        self.possible_agents = [f"customer_{i}" for i in range(self.n_customers)] + [
            f"business_{j}" for j in range(self.n_businesses)
        ]
        self.agents: list[str] = []
        probe = self._bundle(p.market_seed if p.market_seed is not None else 0)[0]
        self.n_items, self.n_amenities = len(probe.domain.items), len(probe.domain.amenities)
        self.actions = ActionBuilder(p.max_bandwidth, p.max_lines, p.max_ticks)
        self._details = DetailFields(
            n_items=self.n_items, n_amenities=self.n_amenities, n_customers=self.n_customers,
            n_businesses=self.n_businesses, bandwidth=p.max_bandwidth, proposals=p.max_proposals,
            inquiries=p.max_inquiries, lines=p.max_lines, query_chars=QUERY_CHARS,
            text_chars=TEXT_CHARS, algorithms=ALGORITHMS, kinds=KINDS,
            order_items=MAX_ORDER_ITEMS,
        )  # fmt: skip
        self._observation_space = self._make_observation_space()
        self._action_space = self._make_action_space()
        self._empty = self._empty_fields()
        self._masks = self._make_masks()
        self._algorithm = ALGORITHMS.index(p.search_algorithm)
        self.protocol = MarketplaceProtocol(probe.domain, self.actions, p.untrusted_text)
        self.world: MarketWorld | None = None

    # Spaces -------------------------------------------------------------------------------------

    def _make_observation_space(self) -> Dict:
        p = self.params
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
                "request_items": ids(self.n_items - 1, (MAX_ORDER_ITEMS,)),
                "request_amenities": ids(self.n_amenities - 1, (MAX_ORDER_AMENITIES,)),
                "results": ids(self.n_businesses - 1, (k,)),
                "result_prices": Box(-1, np.inf, shape=(k,), dtype=f64),
                "result_amenities": Box(0, 1, shape=(k,), dtype=np.int8),
                "proposals": ids(MAX_ID, (n_p,)),
                "proposal_businesses": ids(self.n_businesses - 1, (n_p,)),
                "proposal_totals": Box(0, np.inf, shape=(n_p,), dtype=f64),
                "proposal_covers": Box(0, 1, shape=(n_p,), dtype=np.int8),
                "proposal_expires": Box(0, np.iinfo(i64).max, shape=(n_p,), dtype=i64),
                "inquiries": ids(self.n_customers - 1, (q,)),
                "inquiry_items": ids(self.n_items - 1, (q, MAX_ORDER_ITEMS)),
                "inquiry_prices": Box(-1, np.inf, shape=(q, MAX_ORDER_ITEMS), dtype=f64),
                "floor_factor": Box(0, 1, shape=(1,), dtype=f64),
                "search_algorithm": Discrete(len(ALGORITHMS)),
                "search_bandwidth": Box(1, k, shape=(1,), dtype=i64),
                **self._details.spaces,
                "text": FreeText(VIEW_CHARS),
            }
        )

    def _make_action_space(self) -> Dict:
        p = self.params
        lines, k = p.max_lines, p.max_bandwidth
        i64, f64 = np.int64, np.float64
        return Dict(
            {
                "kind": Discrete(len(KINDS)),
                "query": FreeText(QUERY_CHARS),
                "algorithm": Discrete(len(ALGORITHMS)),
                "page": Discrete(MAX_PAGES),
                "bandwidth": Box(1, k, shape=(1,), dtype=i64),
                "to": Box(-1, max(self.n_businesses, self.n_customers) - 1, shape=(k,), dtype=i64),
                "text": FreeText(TEXT_CHARS),
                "items": Box(-1, self.n_items - 1, shape=(lines,), dtype=i64),
                "quantities": Box(0, MAX_QUANTITY, shape=(lines,), dtype=i64),
                "unit_prices": Box(0.0, 1e7, shape=(lines,), dtype=f64),
                "total": Box(0.0, 1e9, shape=(1,), dtype=f64),
                "expiry": Box(1, p.max_ticks, shape=(1,), dtype=i64),
                "proposal": Box(-1, MAX_ID, shape=(1,), dtype=i64),
            }
        )

    def observation_space(self, agent: str) -> Dict:
        return self._observation_space

    def action_space(self, agent: str) -> Dict:
        return self._action_space

    def _empty_fields(self) -> dict[str, np.ndarray]:
        """Read-only placeholders for the fields of the other role (shared, never written)."""
        space = self._observation_space.spaces
        empty = {}
        for name in (
            "request_items", "request_amenities", "results", "proposals", "proposal_businesses",
            "inquiries", "inquiry_items",
        ):  # fmt: skip
            empty[name] = read_only(np.full(space[name].shape, -1))
        for name in ("result_prices", "inquiry_prices"):
            empty[name] = read_only(np.full(space[name].shape, -1.0), np.float64)
        empty["floor_factor"] = read_only(np.zeros(1), np.float64)
        empty["search_bandwidth"] = read_only([self.params.search_bandwidth])
        for name in ("result_amenities", "proposal_covers"):
            empty[name] = read_only(np.zeros(space[name].shape), np.int8)
        empty["proposal_totals"] = read_only(np.zeros(space["proposal_totals"].shape), np.float64)
        empty["proposal_expires"] = read_only(np.zeros(space["proposal_expires"].shape))
        return empty

    def _make_masks(self) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
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
            as_dict = {key: None for key in self._action_space.spaces}
            as_dict["kind"] = array
            masks[name] = (array, as_dict)
        return masks

    # Episode ------------------------------------------------------------------------------------

    def _bundle(self, market_seed: int) -> tuple[Market, SearchIndex, float]:
        p = self.params
        return market_bundle(
            p.design, self.n_customers, p.domain, market_seed, p.condition, p.manipulator
        )

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        p = self.params
        self.np_random, self._seed = make_rng(seed)
        market_seed = (
            p.market_seed if p.market_seed is not None else derive_seed(self._seed, "market")
        )
        self.base_market, self.search_index, self.optimum = self._bundle(market_seed)
        self._floor_factors = [
            read_only([b.min_price_factor], np.float64) for b in self.base_market.businesses
        ]
        latency_rng = child_rng(self._seed, "latency")
        self.world = MarketWorld(
            self.base_market,
            draw_latencies(p.customer_latency, self.n_customers, latency_rng),
            draw_latencies(p.business_latency, self.n_businesses, latency_rng),
            seed=derive_seed(self._seed, "world"),
            social_degree=p.social_degree,
            review_hops=p.review_hops,
            visibility=p.visibility,
        )
        self._step_rng = child_rng(self._seed, "order")
        self.agents = list(self.possible_agents)
        self._traders: dict[str, Trader] = {t.name: t for t in self.world.shoppers}
        self._traders.update((t.name, t) for t in self.world.shops)
        self._buckets: dict[int, list[Trader]] = {}
        self._ready: set[Trader] = set()
        self._dirty: set[Trader] = set()
        self._ledgers: list[Ledger] = []
        self._day_utilities: list[float] = []
        self._day_markets: list[Market] = []
        self._optima: list[float] = []
        self._revenue_before = [0.0] * self.n_businesses
        self._sold = [0] * self.n_businesses
        self.log: list[tuple[int, str, str, str, str]] = []
        self._observations: dict[str, Any] = {}
        self._infos: dict[str, Any] = {}
        self._details.reset(self.base_market)
        self._start_day(0)
        self._refresh(self.world.shoppers + self.world.shops)
        self._dirty = set()
        return dict(self._observations), dict(self._infos)

    def _start_day(self, day: int) -> None:
        """New demand for ``day``: a fresh ledger, every customer active and ready now."""
        world = self.world
        world.day = day
        world.market = day_market(self.base_market, day, self._seed)
        world.ledger = Ledger(world.market)
        self._ledgers.append(world.ledger)
        self._optima.append(self.optimum if day == 0 else optimal_welfare(world.market))
        self._day_end = world.tick + self.params.max_ticks
        self._first_paid = [False] * self.n_customers
        self._paid = [0] * self.n_customers
        self._receipts: list[list[Any]] = [[] for _ in range(self.n_customers)]
        self._order_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for shopper in world.shoppers:
            shopper.done = False
            shopper.page = None
            shopper.asleep = False
            shopper.ready_at = world.tick
            self._ready.add(shopper)
            self._dirty.add(shopper)

    # Step ---------------------------------------------------------------------------------------

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        world = self.world
        if world is None or not self.agents:
            raise RuntimeError("step() called before reset() or after the episode ended")
        tick = world.tick
        rewards = dict.fromkeys(self.agents, 0.0)
        traders = self._traders
        acting: list[tuple[Trader, dict[str, Any]]] = []
        for agent, action in actions.items():
            trader = traders.get(agent)
            if trader is None or agent not in rewards:
                raise ValueError(f"{agent!r} is not a live agent (live: {len(self.agents)})")
            kind = self._kind_of(agent, action)
            if kind == WAIT:
                if trader in self._ready:
                    self._sleep(trader, tick + self.params.wait_ticks)
                continue
            for name in FIELDS_OF[kind]:  # every action checked before any is carried out
                self._field(trader, action, name)
            acting.append((trader, action))
        if len(acting) > 1:
            order = self._step_rng.permutation(len(acting))
            acting = [acting[i] for i in order]
        for trader, action in acting:
            self._act(trader, action, rewards)
        world.counters.decisions += len(acting)
        return self._advance(rewards)

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

    def _after_action(self, trader: Trader) -> None:
        """The clock after a decision: think for ``latency`` ticks; an idle business sleeps."""
        self._ready.discard(trader)
        if isinstance(trader, Shopper) and trader.done:
            return
        if isinstance(trader, Shop) and not trader.waiting:
            trader.asleep, trader.wake_at = True, -1
            return
        trader.ready_at = self.world.tick + trader.latency
        self._schedule(trader, trader.ready_at)

    def _sleep(self, trader: Trader, until: int) -> None:
        self._ready.discard(trader)
        trader.asleep, trader.wake_at = True, until
        trader.last_kind, trader.status, trader.detail = "wait", 0, ""
        self._dirty.add(trader)
        self._schedule(trader, until)

    def _schedule(self, trader: Trader, tick: int) -> None:
        self._buckets.setdefault(tick, []).append(trader)

    def _notify(self, trader: Trader) -> None:
        """Something arrived for ``trader``: it wakes (if asleep) and answers after its latency."""
        self._dirty.add(trader)
        if trader.asleep:
            trader.asleep = False
            trader.ready_at = self.world.tick + trader.latency
            self._schedule(trader, trader.ready_at)

    # Actions ------------------------------------------------------------------------------------

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

    # Clock, observations, ends -----------------------------------------------------------------

    def _advance(self, rewards: dict[str, float]) -> tuple[dict, dict, dict, dict, dict]:
        world = self.world
        p = self.params
        world.datacollector.collect(world)
        world.tick += 1
        tick = world.tick
        for trader in self._buckets.pop(tick, ()):
            if isinstance(trader, Shopper) and trader.done:
                continue
            if trader.asleep:
                if trader.wake_at == tick:
                    trader.asleep = False
                    trader.ready_at = tick
                    self._ready.add(trader)
                    self._dirty.add(trader)
            elif trader.ready_at == tick:
                self._ready.add(trader)
                self._dirty.add(trader)
        day_over = tick >= self._day_end or all(s.done for s in world.shoppers)
        last_day = world.day == p.days - 1
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, False)
        if day_over:
            self._close_day()
            if last_day:
                ended_all = all(s.done for s in world.shoppers)
                for agent in self.agents:
                    (terminations if ended_all else truncations)[agent] = True
            else:
                self._start_day(world.day + 1)
        if last_day and not day_over:
            for shopper in world.shoppers:
                if shopper.done and shopper.name in terminations:
                    terminations[shopper.name] = True
        self._refresh(self._dirty)
        self._dirty = set()
        observations = {a: self._observations[a] for a in self.agents}
        infos = {a: self._infos[a] for a in self.agents}
        if day_over and last_day:
            metrics = self._metrics()
            infos = {a: {**info, "metrics": metrics} for a, info in infos.items()}
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def _close_day(self) -> None:
        world = self.world
        self._day_utilities.append(float(sum(customer_utilities(world.market, world.ledger))))
        self._day_markets.append(world.market)
        for j, revenue in enumerate(world.ledger.revenue):
            self._revenue_before[j] += revenue
        self._ready = {t for t in self._ready if isinstance(t, Shop)}

    def _metrics(self) -> dict[str, Any]:
        """The episode's metrics: one day's as `market_metrics` gives them, several days merged
        (`merge_days`) with the welfare of each day."""
        days = [
            market_metrics(
                market, ledger, customer_utilities(market, ledger), optimum, self.world.tick
            )
            for market, ledger, optimum in zip(
                self._day_markets, self._ledgers, self._optima, strict=True
            )
        ]
        metrics = merge_days(days)
        metrics["days"] = len(days)
        if len(days) > 1:
            metrics.update({f"welfare_day_{d}": u for d, u in enumerate(self._day_utilities)})
        metrics["reviews"] = len(self.world.reviews)
        return metrics

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
        text = ""
        if self.params.text_observations:
            text = self.protocol.render(obs, trader.name)[:VIEW_CHARS]
        obs["text"] = text
        return obs

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

    # Engine hooks, rendering --------------------------------------------------------------------

    def deciding_agents(self) -> list[str]:
        """The live agents with a decision to make this step (the others may only wait).

        The rollout asks only these agents' policies and passes `idle_action` for the rest.
        """
        return sorted((t.name for t in self._ready), key=self._agent_order)

    @functools.cached_property
    def _agent_order(self) -> Any:
        order = {agent: i for i, agent in enumerate(self.possible_agents)}
        return order.__getitem__

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self.world is None:
            return None
        world = self.world
        return (
            f"tick {world.tick} day {world.day}: {len(world.ledger.proposals)} proposals, "
            f"{len(world.ledger.payments)} payments, {sum(not s.done for s in world.shoppers)} "
            "customers active"
        )

    def close(self) -> None:
        self.world = None

    def state_dict(self) -> dict[str, Any]:
        """The market this episode runs on (for analysis; not an observation)."""
        return {"market": self.base_market, "ledgers": self._ledgers, "log": self.log}


def parallel_env(**kwargs: Any) -> MarketplaceEnv:
    """`mercato/Marketplace-v0` (Parallel)."""
    return MarketplaceEnv(**kwargs)


MarketplaceEnv.__init__.__signature__ = keyword_signature(MarketParams, with_self=True)  # type: ignore[attr-defined]
parallel_env.__signature__ = keyword_signature(MarketParams, with_self=False)  # type: ignore[attr-defined]
