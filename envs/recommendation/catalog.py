"""Item catalogs for the recommendation environments: columnar, so 100,000 items stay cheap.

An item ``i`` has a title, a category, one value per categorical attribute of its domain, a price,
a quality in [0, 1] (how good it really is), an engagement pull in [0, 1] (how clickable it looks:
catchy but poor items are high here and low in quality, the RecSim "chocolate" items), a
popularity and a description. Catalogs are generated from templates by
`envs.recommendation.catalog_generator` (no third-party dataset is shipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

DOMAINS: tuple[str, ...] = ("books", "games", "restaurants")


@dataclass(frozen=True)
class Catalog:
    """A domain's items as parallel columns; attribute values are codes into
    ``attribute_values[name]``."""

    domain: str
    seed: int
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    categories: np.ndarray = field(compare=False)
    category_names: tuple[str, ...]
    attributes: Mapping[str, np.ndarray] = field(compare=False)
    attribute_values: Mapping[str, tuple[str, ...]]
    price: np.ndarray = field(compare=False)
    quality: np.ndarray = field(compare=False)
    engagement: np.ndarray = field(compare=False)
    popularity: np.ndarray = field(compare=False)

    def __len__(self) -> int:
        return len(self.titles)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(self.attributes)

    def value_of(self, item: int, attribute: str) -> str:
        """The attribute value of ``item`` as text."""
        return self.attribute_values[attribute][int(self.attributes[attribute][item])]

    def describe(self, item: int) -> str:
        """One line a recommender may show: title, category, attributes, price."""
        values = ", ".join(f"{a}: {self.value_of(item, a)}" for a in self.attributes)
        category = self.category_names[int(self.categories[item])]
        return f"[{item}] {self.titles[item]} ({category}; {values}; ${self.price[item]:.2f})"
