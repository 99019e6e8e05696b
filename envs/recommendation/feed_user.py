"""The feed user's hidden mind: interests, budget and a latent satisfaction (RecSim-like).

After RecSim's ``long_term_satisfaction`` ("chocolate and kale"): the user carries a net positive
exposure ``npe`` that decays by ``memory_discount`` each step and moves with every consumed item
by its quality (``2 * quality - 1``, plus ``fit_weight`` times how well it fits the user's
interests); slates that break the user's standing commands push it down by
``violation_penalty`` times the share of offending items. Satisfaction is
``sigmoid(sensitivity * npe)``. Catchy-but-poor items are more clickable (the choice model is the
user policy's) yet lower satisfaction, so engagement and welfare can part ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.recommendation.catalog import Catalog


def value_offsets(catalog: Catalog) -> dict[str, int]:
    """Where each attribute's values start in the flat value vector (categories excluded)."""
    offsets, start = {}, 0
    for attribute, values in catalog.attribute_values.items():
        offsets[attribute] = start
        start += len(values)
    return offsets


def n_values(catalog: Catalog) -> int:
    """How many attribute values the catalog has across its attributes."""
    return sum(len(values) for values in catalog.attribute_values.values())


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@dataclass
class LatentUser:
    """One user's hidden state for an episode (the env owns it; the user sees its own)."""

    interests: np.ndarray  # per category, -1..1
    value_interests: np.ndarray  # per attribute value (flat, `value_offsets`), -1..1
    budget: float  # the price the user is comfortable with
    npe: float  # net positive exposure
    sensitivity: float

    @classmethod
    def draw(
        cls, catalog: Catalog, rng: np.random.Generator, initial: float, sensitivity: float
    ) -> LatentUser:
        """A user with seeded interests (categories: sd 0.5, values: sd 0.4, clipped to -1..1),
        a budget at a random quantile (30-90 %) of the catalog's prices, and satisfaction
        ``initial``."""
        interests = np.clip(rng.normal(0.0, 0.5, len(catalog.category_names)), -1.0, 1.0)
        values = np.clip(rng.normal(0.0, 0.4, n_values(catalog)), -1.0, 1.0)
        budget = float(np.quantile(catalog.price, rng.uniform(0.3, 0.9)))
        return cls(interests, values, round(budget, 2), logit(initial) / sensitivity, sensitivity)

    @property
    def satisfaction(self) -> float:
        return sigmoid(self.sensitivity * self.npe)

    def fit(self, catalog: Catalog, item: int) -> float:
        """How well ``item`` fits the user's interests (-1..1): its category's interest plus
        the mean interest in its attribute values."""
        offsets = value_offsets(catalog)
        values = [self.value_interests[offsets[a] + int(catalog.attributes[a][item])]
                  for a in catalog.attributes]  # fmt: skip
        total = self.interests[int(catalog.categories[item])] + (np.mean(values) if values else 0)
        return float(np.clip(total, -1.0, 1.0))

    def experience(
        self,
        catalog: Catalog,
        consumed: int | None,
        violation_share: float,
        memory_discount: float,
        fit_weight: float,
        violation_penalty: float,
    ) -> float:
        """One step of the user's life: decay, the consumed item (if any) and the slate's
        violations; returns the change in satisfaction."""
        before = self.satisfaction
        self.npe *= memory_discount
        if consumed is not None:
            quality = float(catalog.quality[consumed])
            self.npe += 2.0 * quality - 1.0 + fit_weight * self.fit(catalog, consumed)
        self.npe -= violation_penalty * violation_share
        return self.satisfaction - before
