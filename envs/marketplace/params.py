"""The marketplace's parameters: validated once at construction, one clear error per bad field.

Latencies (response times in ticks) are given per role as an int (everyone the same), a mapping
``{"low": a, "high": b}`` (drawn per agent per episode from the reset seed, inclusive), or a list
with one int per agent of that role (e.g. ``business_latency: [1, 2, 3]`` for the position-bias
design).

``untrusted_text`` is how an agent's view shows text the other side wrote (business names,
descriptions and messages for customers; customer messages for businesses): ``"plain"`` pastes it
as written (the reference study's condition, no defence against the manipulations), and
``"delimited"`` puts it between tags naming its author that the instructions explain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from envs.core.params import Params, Rule, choice, flag, integer, is_int, value
from envs.marketplace.market import DOMAINS

ALGORITHMS: tuple[str, ...] = ("simple", "lexical", "perfect", "perfect_items", "semantic")
DESIGN_NAMES: tuple[str, ...] = ("progenitor", "malicious", "competitive", "identical")
CONDITION_NAMES: tuple[str, ...] = (
    "control", "authority", "social_proof", "loss_aversion", "injection_basic", "injection_strong",
)  # fmt: skip
UNTRUSTED_TEXT: tuple[str, ...] = ("plain", "delimited")
"""How other parties' text reaches an LLM player: as is, or between author tags."""
MAX_CUSTOMERS = 10_000
MAX_BANDWIDTH = 100

LatencySpec = int | Mapping[str, int] | Sequence[int]


def _require_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    Rule("int", low, high).check(name, value)
    return int(value)


def check_latency(name: str, spec: Any, count: int) -> LatencySpec:
    """``spec`` if it is a valid latency for ``count`` agents, else ValueError naming ``name``."""
    if is_int(spec):
        return _require_int(name, spec, 1)
    if isinstance(spec, Mapping):
        if set(spec) != {"low", "high"}:
            raise ValueError(
                f"{name} as a mapping needs exactly 'low' and 'high', got {dict(spec)}"
            )
        low = _require_int(f"{name}.low", spec["low"], 1)
        _require_int(f"{name}.high", spec["high"], low)
        return {"low": low, "high": int(spec["high"])}
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if len(spec) != count:
            raise ValueError(
                f"{name} as a list needs one latency per agent ({count}), got {len(spec)}"
            )
        return tuple(_require_int(f"{name}[{i}]", v, 1) for i, v in enumerate(spec))
    raise ValueError(f"{name} must be an int >= 1, {{low, high}} or a list of ints, got {spec!r}")


def draw_latencies(spec: LatencySpec, count: int, rng: np.random.Generator) -> np.ndarray:
    """Per-agent latencies for one episode (a draw only for the ``{low, high}`` form)."""
    if isinstance(spec, Mapping):
        return rng.integers(spec["low"], spec["high"] + 1, size=count).astype(np.int64)
    if isinstance(spec, tuple):
        return np.asarray(spec, dtype=np.int64)
    return np.full(count, int(spec), dtype=np.int64)


def design_size(design: str, n_customers: int) -> tuple[int, int]:
    """(customers, businesses) of a design: the study designs have fixed sizes."""
    fixed = {"malicious": (1, 3), "competitive": (3, 3), "identical": (1, 3)}
    return fixed.get(design, (n_customers, 3 * n_customers))


@dataclass(frozen=True)
class MarketParams(Params):
    """Every constructor parameter of `MarketplaceEnv` (see its docstring for meanings)."""

    n_customers: int = integer(3, 1, MAX_CUSTOMERS, doc="customers (businesses: three each)")
    domain: str = choice("restaurants", DOMAINS, doc="what the market sells")
    design: str = choice("progenitor", DESIGN_NAMES, doc="the study design")
    condition: str = choice("control", CONDITION_NAMES, doc="the manipulation condition")
    manipulator: int = value(0, doc="index of the manipulating business")
    market_seed: int | None = integer(None, 0, optional=True, doc="market's seed (None: reset's)")
    max_ticks: int = integer(100, 1, 1_000_000, doc="ticks before truncation")
    customer_latency: LatencySpec = value(1, doc="ticks per customer reply: int, {low, high}, list")
    business_latency: LatencySpec = value(1, doc="ticks per business reply: int, {low, high}, list")
    search_algorithm: str = choice("lexical", ALGORITHMS, doc="how search ranks businesses")
    search_bandwidth: int | None = value(None, doc="results per search (None: max_bandwidth)")
    max_bandwidth: int = integer(10, 1, MAX_BANDWIDTH, doc="most results or recipients at once")
    max_proposals: int = integer(10, 1, 1000, doc="proposals a customer may hold")
    max_inquiries: int = integer(10, 1, 1000, doc="inquiries a customer may send")
    max_lines: int = integer(5, 3, 50, doc="lines of a proposal")
    wait_ticks: int = value(5, doc="ticks a WAIT lasts")
    text_observations: bool = flag(True, doc="add the text view to observations")
    untrusted_text: str = choice("plain", UNTRUSTED_TEXT, doc="how other parties' text is shown")
    days: int = integer(1, 1, 1000, doc="market days")
    social_degree: int = integer(4, 0, 1000, doc="customers' friends in the social network")
    visibility: int = value(0, doc="businesses whose reviews customers see")
    review_hops: int = integer(1, 0, 10, doc="how far reviews travel in the network")

    def validate(self) -> MarketParams:
        p = self
        n_customers, n_businesses = design_size(p.design, p.n_customers)
        if p.condition != "control":
            _require_int("manipulator", p.manipulator, 0, n_businesses - 1)
        if p.search_bandwidth is not None:
            _require_int("search_bandwidth", p.search_bandwidth, 1, p.max_bandwidth)
        _require_int("wait_ticks", p.wait_ticks, 1, p.max_ticks)
        _require_int("visibility", p.visibility, 0, n_businesses)
        return replace(
            p,
            search_bandwidth=p.search_bandwidth or p.max_bandwidth,
            customer_latency=check_latency("customer_latency", p.customer_latency, n_customers),
            business_latency=check_latency("business_latency", p.business_latency, n_businesses),
        )
