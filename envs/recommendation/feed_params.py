"""The feed's parameters, validated once at construction (one clear error per bad field)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from envs.core.turns import refuse_unknown
from envs.recommendation.catalog import DOMAINS, Catalog
from envs.recommendation.catalog_generator import MAX_ITEMS, MIN_ITEMS
from envs.recommendation.commands import CommandParser

REWARDS: tuple[str, ...] = ("clicks", "satisfaction")


def _int(name: str, value: Any, low: int, high: int) -> None:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def _real(name: str, value: Any, low: float, high: float, *, open_high: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low <= value < high if open_high else low <= value <= high):
        bracket = ")" if open_high else "]"
        raise ValueError(f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}")


@dataclass(frozen=True)
class FeedParams:
    """Every constructor parameter of the feed env (see its docstring for meanings)."""

    domain: str = "books"
    n_items: int = 500
    catalog_seed: int | None = None
    catalog: Catalog | None = None
    slate_size: int = 5
    max_steps: int = 30
    history: int = 10
    reward: str = "clicks"
    initial_satisfaction: float = 0.6
    memory_discount: float = 0.95
    sensitivity: float = 0.15
    fit_weight: float = 0.3
    violation_penalty: float = 0.5
    churn_threshold: float = 0.15
    churn_hazard: float = 0.1
    command_parser: CommandParser | None = None
    text_observations: bool = True
    text_candidates: int = 20
    message_length: int = 500
    command_length: int = 300

    @classmethod
    def checked(cls, **params: Any) -> FeedParams:
        refuse_unknown(cls, params)
        p = cls(**params)
        if p.catalog is not None:
            if not isinstance(p.catalog, Catalog) or len(p.catalog) < 1:
                raise ValueError(f"catalog must be a non-empty Catalog, got {type(p.catalog)}")
            p = cls(**{**params, "domain": p.catalog.domain, "n_items": len(p.catalog)})
        if p.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {p.domain!r}")
        if p.catalog is None:
            _int("n_items", p.n_items, MIN_ITEMS, MAX_ITEMS)
        if p.catalog_seed is not None:
            _int("catalog_seed", p.catalog_seed, 0, 2**31 - 1)
        _int("slate_size", p.slate_size, 1, 50)
        if p.slate_size > p.n_items:
            raise ValueError(
                f"slate_size must be at most n_items ({p.n_items}), got {p.slate_size}"
            )
        _int("max_steps", p.max_steps, 1, 10_000)
        _int("history", p.history, 1, 1000)
        if p.reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {p.reward!r}")
        _real("initial_satisfaction", p.initial_satisfaction, 0.01, 0.99)
        _real("memory_discount", p.memory_discount, 0.0, 1.0, open_high=True)
        _real("sensitivity", p.sensitivity, 0.001, 10.0)
        _real("fit_weight", p.fit_weight, 0.0, 10.0)
        _real("violation_penalty", p.violation_penalty, 0.0, 10.0)
        _real("churn_threshold", p.churn_threshold, 0.0, 1.0, open_high=True)
        _real("churn_hazard", p.churn_hazard, 0.0, 1.0)
        if p.command_parser is not None and not isinstance(p.command_parser, CommandParser):
            raise ValueError(
                "command_parser must be None (rules) or have parse(text, catalog) -> Constraint, "
                f"got {p.command_parser!r}"
            )
        if not isinstance(p.text_observations, bool):
            raise ValueError(
                f"text_observations must be true or false, got {p.text_observations!r}"
            )
        _int("text_candidates", p.text_candidates, 0, 200)
        _int("message_length", p.message_length, 1, 10_000)
        _int("command_length", p.command_length, 1, 10_000)
        return p
