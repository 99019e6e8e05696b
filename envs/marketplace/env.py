"""`mercato/Marketplace-v0`: assistants buy for customers from businesses (PettingZoo Parallel)."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Dict
from pettingzoo import ParallelEnv

from envs.core.params import keyword_signature
from envs.core.rendering import NoGlobalState, check_render_mode, render_text, show
from envs.core.seeding import child_rng, derive_seed, make_rng
from envs.core.turns import read_only
from envs.marketplace.acting import Acting
from envs.marketplace.actions import KINDS, WAIT, ActionBuilder
from envs.marketplace.baselines import optimal_welfare
from envs.marketplace.ledger import Ledger
from envs.marketplace.market import Market
from envs.marketplace.markets import day_market, market_bundle
from envs.marketplace.observing import Observing
from envs.marketplace.outcomes import customer_utilities, market_metrics, merge_days
from envs.marketplace.params import ALGORITHMS, MarketParams, design_size, draw_latencies
from envs.marketplace.protocol import MarketplaceProtocol
from envs.marketplace.search import SearchIndex
from envs.marketplace.spaces import (
    FIELDS_OF,
    MAX_ORDER_ITEMS,
    QUERY_CHARS,
    TEXT_CHARS,
    action_space,
    empty_fields,
    kind_masks,
    observation_space,
)
from envs.marketplace.views import DetailFields
from envs.marketplace.world import MarketWorld, Shop, Shopper, Trader


class MarketplaceEnv(Acting, Observing, ParallelEnv):
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
    plus k random ones), `render_mode` (None, "ansi" or "human").

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
        "render_modes": ["ansi", "human"],
        "is_parallelizable": True,
    }
    idle_action: ClassVar[dict[str, Any]] = {"kind": WAIT}

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        self.render_mode = check_render_mode(render_mode)
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
        self._observation_space = observation_space(
            p, self.n_items, self.n_amenities, self.n_customers, self.n_businesses,
            self._details.spaces,
        )  # fmt: skip
        self._action_space = action_space(p, self.n_items, self.n_customers, self.n_businesses)
        self._empty = empty_fields(self._observation_space, p.search_bandwidth)
        self._masks = kind_masks(self._action_space)
        self._algorithm = ALGORITHMS.index(p.search_algorithm)
        self.protocol = MarketplaceProtocol(probe.domain, self.actions, p.untrusted_text)
        self.world: MarketWorld | None = None

    # Spaces -------------------------------------------------------------------------------------

    def observation_space(self, agent: str) -> Dict:
        return self._observation_space

    def action_space(self, agent: str) -> Dict:
        return self._action_space

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

    # Clock, days, metrics -------------------------------------------------------------------------

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
        """The market in a line, then the text view of each agent deciding now."""
        if self.render_mode is None or self.world is None:
            return None
        world = self.world
        summary = (
            f"tick {world.tick} day {world.day}: {len(world.ledger.proposals)} proposals, "
            f"{len(world.ledger.payments)} payments, {sum(not s.done for s in world.shoppers)} "
            "customers active"
        )
        deciding = {agent: self._observations[agent] for agent in self.deciding_agents()}
        return show(self.render_mode, render_text(summary, self.protocol, deciding))

    def state(self) -> Any:
        raise NoGlobalState(
            "Marketplace-v0 has no global state in a fixed space: the market's ledger "
            "(searches, messages, proposals, payments, reviews) grows through an episode and "
            "every agent sees a bounded window of it; use each agent's observation, or "
            "env.unwrapped.state_dict() for the market and its ledgers"
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
