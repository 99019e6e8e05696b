"""The feed's parameters, validated once at construction (one clear error per bad field)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from envs.core.params import Params, choice, flag, integer, real, value
from envs.recommendation.catalog import DOMAINS, Catalog
from envs.recommendation.catalog_generator import MAX_ITEMS, MIN_ITEMS
from envs.recommendation.commands import CommandParser

REWARDS: tuple[str, ...] = ("clicks", "satisfaction")


@dataclass(frozen=True)
class FeedParams(Params):
    """Every constructor parameter of the feed env (see its docstring for meanings)."""

    domain: str = choice("books", DOMAINS, doc="catalog domain")
    n_items: int = integer(500, MIN_ITEMS, MAX_ITEMS, doc="items in the generated catalog")
    catalog_seed: int | None = integer(None, 0, 2**31 - 1, optional=True, doc="catalog's seed")
    catalog: Catalog | None = value(None, doc="a ready catalog (sets domain and n_items)")
    slate_size: int = integer(5, 1, 50, doc="items shown per step")
    max_steps: int = integer(30, 1, 10_000, doc="steps before truncation")
    history: int = integer(10, 1, 1000, doc="past slates the recommender observes")
    reward: str = choice("clicks", REWARDS, doc="the recommender's reward")
    initial_satisfaction: float = real(0.6, 0.01, 0.99, doc="user's satisfaction at the start")
    memory_discount: float = real(0.95, 0.0, 1.0, open_high=True, doc="satisfaction's memory")
    sensitivity: float = real(0.15, 0.001, 10.0, doc="how much one click moves satisfaction")
    fit_weight: float = real(0.3, 0.0, 10.0, doc="weight of fit to tastes against quality")
    violation_penalty: float = real(0.5, 0.0, 10.0, doc="cost of an item against a request")
    churn_threshold: float = real(0.15, 0.0, 1.0, open_high=True, doc="satisfaction to churn")
    churn_hazard: float = real(0.1, 0.0, 1.0, doc="chance per step of leaving below threshold")
    command_parser: CommandParser | None = value(None, doc="reads commands (None: rules)")
    text_observations: bool = flag(True, doc="add the text view to observations")
    text_candidates: int = integer(20, 0, 200, doc="candidates listed in the text view")
    message_length: int = integer(500, 1, 10_000, doc="characters of a user message")
    command_length: int = integer(300, 1, 10_000, doc="characters of a user command")

    def validate(self) -> FeedParams:
        p = self
        if p.catalog is not None:
            if not isinstance(p.catalog, Catalog) or len(p.catalog) < 1:
                raise ValueError(f"catalog must be a non-empty Catalog, got {type(p.catalog)}")
            p = replace(p, domain=p.catalog.domain, n_items=len(p.catalog))
        if p.slate_size > p.n_items:
            raise ValueError(
                f"slate_size must be at most n_items ({p.n_items}), got {p.slate_size}"
            )
        if p.command_parser is not None and not isinstance(p.command_parser, CommandParser):
            raise ValueError(
                "command_parser must be None (rules) or have parse(text, catalog) -> Constraint, "
                f"got {p.command_parser!r}"
            )
        return p
