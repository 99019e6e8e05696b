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

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.core.turns import refuse_unknown
from envs.marketplace.market import DOMAINS
from envs.marketplace.views import UNTRUSTED_TEXT

ALGORITHMS: tuple[str, ...] = ("simple", "lexical", "perfect", "perfect_items", "semantic")
DESIGN_NAMES: tuple[str, ...] = ("progenitor", "malicious", "competitive", "identical")
CONDITION_NAMES: tuple[str, ...] = (
    "control", "authority", "social_proof", "loss_aversion", "injection_basic", "injection_strong",
)  # fmt: skip
MAX_CUSTOMERS = 10_000
MAX_BANDWIDTH = 100

LatencySpec = int | Mapping[str, int] | Sequence[int]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _require_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if not _is_int(value) or value < low or (high is not None and value > high):
        allowed = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def _require_choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return str(value)


def check_latency(name: str, spec: Any, count: int) -> LatencySpec:
    """``spec`` if it is a valid latency for ``count`` agents, else ValueError naming ``name``."""
    if _is_int(spec):
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
class MarketParams:
    """Every constructor parameter of `MarketplaceEnv` (see its docstring for meanings)."""

    n_customers: int = 3
    domain: str = "restaurants"
    design: str = "progenitor"
    condition: str = "control"
    manipulator: int = 0
    market_seed: int | None = None
    max_ticks: int = 100
    customer_latency: LatencySpec = 1
    business_latency: LatencySpec = 1
    search_algorithm: str = "lexical"
    search_bandwidth: int | None = None
    max_bandwidth: int = 10
    max_proposals: int = 10
    max_inquiries: int = 10
    max_lines: int = 5
    wait_ticks: int = 5
    text_observations: bool = True
    untrusted_text: str = "plain"
    days: int = 1
    social_degree: int = 4
    visibility: int = 0
    review_hops: int = 1

    @classmethod
    def checked(cls, **params: Any) -> MarketParams:
        """Validated parameters; a ValueError names the first bad one and what is allowed."""
        refuse_unknown(cls, params)
        p = cls(**params)
        _require_int("n_customers", p.n_customers, 1, MAX_CUSTOMERS)
        _require_choice("domain", p.domain, DOMAINS)
        _require_choice("design", p.design, DESIGN_NAMES)
        _require_choice("condition", p.condition, CONDITION_NAMES)
        n_customers, n_businesses = design_size(p.design, p.n_customers)
        if p.condition != "control":
            _require_int("manipulator", p.manipulator, 0, n_businesses - 1)
        if p.market_seed is not None:
            _require_int("market_seed", p.market_seed, 0)
        _require_int("max_ticks", p.max_ticks, 1, 1_000_000)
        _require_int("max_bandwidth", p.max_bandwidth, 1, MAX_BANDWIDTH)
        _require_choice("search_algorithm", p.search_algorithm, ALGORITHMS)
        if p.search_bandwidth is not None:
            _require_int("search_bandwidth", p.search_bandwidth, 1, p.max_bandwidth)
        _require_int("max_proposals", p.max_proposals, 1, 1000)
        _require_int("max_inquiries", p.max_inquiries, 1, 1000)
        _require_int("max_lines", p.max_lines, 3, 50)
        _require_int("wait_ticks", p.wait_ticks, 1, p.max_ticks)
        _require_int("days", p.days, 1, 1000)
        _require_int("social_degree", p.social_degree, 0, 1000)
        _require_int("visibility", p.visibility, 0, n_businesses)
        _require_int("review_hops", p.review_hops, 0, 10)
        _require_choice("untrusted_text", p.untrusted_text, UNTRUSTED_TEXT)
        if not isinstance(p.text_observations, bool):
            raise ValueError(
                f"text_observations must be true or false, got {p.text_observations!r}"
            )
        return cls(
            **{
                **params,
                "search_bandwidth": p.search_bandwidth or p.max_bandwidth,
                "customer_latency": check_latency(
                    "customer_latency", p.customer_latency, n_customers
                ),
                "business_latency": check_latency(
                    "business_latency", p.business_latency, n_businesses
                ),
            }
        )
