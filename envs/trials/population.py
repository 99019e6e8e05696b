"""Simulated participants: the traits a trial draws for each person, and their coarse levels.

Traits on the study's 1-7 scales: the Big Five (openness, conscientiousness, extraversion,
agreeableness, neuroticism) and two susceptibility-related traits, trust in AI and reactance
(resistance to being steered). Each is drawn from a normal distribution clipped to [1, 7]; the
means and spreads are parameters of the population (defaults centred like a general online
sample). Assistants see the Big Five only as the study's coarse levels: High if >= 5.5, Moderate
if >= 3, else Low.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

TRAITS: tuple[str, ...] = (
    "openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism",
    "ai_trust", "reactance",
)  # fmt: skip
BIG_FIVE = TRAITS[:5]
LEVELS: tuple[str, ...] = ("low", "moderate", "high")


@dataclass(frozen=True)
class Population:
    """Mean and standard deviation of each trait (1-7 scales, clipped)."""

    means: Mapping[str, float] = field(
        default_factory=lambda: {
            "openness": 4.9,
            "conscientiousness": 5.0,
            "extraversion": 3.9,
            "agreeableness": 5.1,
            "neuroticism": 3.6,
            "ai_trust": 4.4,
            "reactance": 3.8,
        }
    )
    sds: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(TRAITS, 1.0))

    def __post_init__(self) -> None:
        for name in (*self.means, *self.sds):
            if name not in TRAITS:
                raise ValueError(f"population: unknown trait {name!r}; traits: {TRAITS}")
        for name in TRAITS:
            mean, sd = self.means.get(name, 4.0), self.sds.get(name, 1.0)
            if not 1.0 <= mean <= 7.0 or not 0.0 <= sd <= 3.0:
                raise ValueError(
                    f"population.{name}: mean must be in [1, 7] and sd in [0, 3], "
                    f"got mean={mean!r}, sd={sd!r}"
                )

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One participant's traits, in `TRAITS` order (float64, each in [1, 7])."""
        means = np.array([self.means.get(t, 4.0) for t in TRAITS])
        sds = np.array([self.sds.get(t, 1.0) for t in TRAITS])
        return np.clip(rng.normal(means, sds), 1.0, 7.0)


def levels(traits: np.ndarray, *, all_traits: bool = False) -> np.ndarray:
    """The study's coarse levels, 0 low (< 3), 1 moderate, 2 high (>= 5.5): of the Big Five
    (what assistants see), or of every trait."""
    shown = np.asarray(traits if all_traits else traits[: len(BIG_FIVE)])
    return np.where(shown >= 5.5, 2, np.where(shown >= 3.0, 1, 0)).astype(np.int64)
