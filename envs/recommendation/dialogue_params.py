"""The recommendation dialogue's parameters, validated once at construction."""

from __future__ import annotations

from dataclasses import dataclass

from envs.core.params import Params, Rule, choice, flag, integer, value
from envs.recommendation.catalog import DOMAINS, Catalog


@dataclass(frozen=True)
class DialogueParams(Params):
    """Every constructor parameter of the dialogue env (see its docstring)."""

    domain: str = choice("books", DOMAINS, doc="catalog domain")
    n_items: int = integer(1000, 100, 100_000, doc="items in the generated catalog")
    catalog_seed: int | None = integer(0, 0, optional=True, doc="catalog's seed (None: reset's)")
    max_turns: int = integer(10, 1, 100, doc="turns before truncation")
    recommend_size: int = integer(3, 1, 50, doc="items per recommendation")
    search_size: int = integer(10, 1, 100, doc="results per search")
    searches_per_turn: int = integer(2, 0, 10, doc="searches a recommender may run per turn")
    patience_low: int = integer(4, 1, 100, doc="fewest turns a user stays")
    patience_high: int = integer(10, 1, 100, doc="most turns a user stays")
    text_observations: bool = flag(True, doc="add the text view to observations")
    catalog: Catalog | None = value(None, doc="a ready catalog")

    def validate(self) -> DialogueParams:
        Rule("int", self.patience_low, 100).check("patience_high", self.patience_high)
        if self.catalog is not None and not isinstance(self.catalog, Catalog):
            raise ValueError(
                f"catalog must be a Catalog or None, got {type(self.catalog).__name__}"
            )
        return self
