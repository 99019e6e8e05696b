"""A trial's participant population as a Mesa model: draw people, assign them to arms, run them.

`TrialPopulation` creates ``n`` `Participant` agents with traits from a `Population`, assigns
them at random to the assistant-type x domain arms in equal numbers (a seeded permutation of a
balanced list), and on `step` lets every participant not yet seen take part: each plays one
episode of ``tasks`` tasks through the ``take_part`` function given to the model (which builds
the env and the players, so this module needs no player code). The DataCollector's agent table
then holds every participant's arm, traits and outcome metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import mesa
import numpy as np

from envs.core.seeding import derive_seed
from envs.trials.params import AGENT_TYPES
from envs.trials.population import TRAITS, Population
from envs.trials.scenarios import DOMAINS

Arm = tuple[str, str]  # (assistant type, domain)
ARMS: tuple[Arm, ...] = tuple((a, d) for d in DOMAINS for a in AGENT_TYPES)
TakePart = Callable[["Participant"], dict[str, float]]
"""Plays a participant's episode and returns its metrics."""


class Participant(mesa.Agent):
    """One simulated person: traits, an arm, a seed for its episode, and its outcomes."""

    def __init__(self, model: TrialPopulation, index: int, traits: np.ndarray, arm: Arm) -> None:
        super().__init__(model)
        self.index = index
        self.traits = traits
        self.assistant_type, self.domain = arm
        self.seed = derive_seed(model.seed_value, "participant", index)
        self.metrics: dict[str, float] = {}

    def take_part(self) -> None:
        if not self.metrics:
            self.metrics = self.model.take_part(self)


class TrialPopulation(mesa.Model):
    """``n`` participants randomly assigned, in equal numbers, to ``arms``."""

    def __init__(
        self,
        n: int,
        take_part: TakePart,
        *,
        seed: int = 0,
        arms: Sequence[Arm] = ARMS,
        population: Population | None = None,
    ) -> None:
        super().__init__(seed=seed)
        if n < len(arms):
            raise ValueError(f"n must be at least the number of arms ({len(arms)}), got {n}")
        self.seed_value = seed
        self.take_part = take_part
        population = population or Population()
        balanced = [arms[i % len(arms)] for i in range(n)]
        order = self.rng.permutation(n)
        for index in range(n):
            traits = population.draw(self.rng)
            Participant(self, index, traits, balanced[int(order[index])])
        self.datacollector = mesa.DataCollector(
            agent_reporters={
                "assistant_type": "assistant_type",
                "domain": "domain",
                **{trait: _trait(i) for i, trait in enumerate(TRAITS)},
                "metrics": "metrics",
            }
        )

    def step(self) -> None:
        """Every participant who has not taken part does so; then the table is collected."""
        self.agents.shuffle_do("take_part")
        self.datacollector.collect(self)

    def outcomes(self) -> Any:
        """One row per participant: arm, traits and every metric (a pandas DataFrame)."""
        import pandas as pd

        frame = self.datacollector.get_agent_vars_dataframe().reset_index()
        frame = frame[frame["Step"] == frame["Step"].max()]
        metrics = pd.DataFrame(frame.pop("metrics").tolist(), index=frame.index)
        return pd.concat([frame.drop(columns="Step"), metrics], axis=1)


def _trait(i: int) -> Callable[[Participant], float]:
    return lambda participant: float(participant.traits[i])
