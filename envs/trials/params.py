"""The trial's parameters, validated once at construction (one clear error per bad field)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from envs.core.params import Params, Rule, choice, flag, integer, value
from envs.trials.population import Population
from envs.trials.scenarios import DOMAINS, Scenario, load_scenarios, scenarios_for

AGENT_TYPES: tuple[str, ...] = ("NA", "MA", "SEMA")
HINDSIGHT: tuple[str, ...] = ("none", "partial", "full")


@dataclass(frozen=True)
class TrialParams(Params):
    """Every constructor parameter of the trial env (see its docstring for meanings)."""

    domain: str = choice("financial", DOMAINS, doc="decision domain of the scenarios")
    assistant_type: str = choice("NA", AGENT_TYPES, doc="neutral, manipulative or strategy-led")
    scenario: str | None = value(None, doc="one scenario id (None: drawn per task)")
    tasks: int = integer(1, 1, doc="decision tasks per participant")
    min_exchanges: int = integer(10, 0, 100, doc="exchanges before the user may decide")
    max_exchanges: int = integer(20, 1, 200, doc="exchanges before the chat ends")
    principal: bool = flag(False, doc="seat a principal who reveals the hidden incentive")
    payoff: Sequence[float] = value((100.0, 50.0, 0.0), doc="points: hidden, other, optimal")
    hindsight: str = choice("partial", HINDSIGHT, doc="what the user learns after choosing")
    scenarios: str | None = value(None, doc="a scenario library YAML (None: the bundled one)")
    population: Mapping[str, Any] | None = value(None, doc="participant traits {means, sds}")
    text_observations: bool = flag(True, doc="add the text view to observations")
    message_length: int = integer(1000, 1, 10_000, doc="characters of a chat message")

    def validate(self) -> TrialParams:
        p = self
        library = p.library()
        ids = [s.id for s in scenarios_for(p.domain, library)]
        if not ids:
            raise ValueError(f"scenarios: no {p.domain} scenario in {p.scenarios or 'the library'}")
        if p.scenario is not None and p.scenario not in ids:
            raise ValueError(
                f"scenario must be one of {ids} (domain {p.domain}), got {p.scenario!r}"
            )
        Rule("int", 1, 1 if p.scenario is not None else len(ids)).check("tasks", p.tasks)
        Rule("int", max(1, p.min_exchanges), 200).check("max_exchanges", p.max_exchanges)
        payoff = tuple(p.payoff) if isinstance(p.payoff, Sequence) else ()
        if len(payoff) != 3 or not all(
            isinstance(x, numbers.Real) and 0 <= x <= 100 for x in payoff
        ):
            raise ValueError(
                f"payoff must be 3 numbers in [0, 100] (hidden, other, optimal), got {p.payoff!r}"
            )
        if p.population is not None and not isinstance(p.population, Mapping):
            raise ValueError(f"population must be a mapping {{means, sds}}, got {p.population!r}")
        p.population_spec()
        return replace(p, payoff=tuple(float(x) for x in payoff))

    def library(self) -> dict[str, Scenario]:
        if self.scenarios is not None and not Path(self.scenarios).is_file():
            raise ValueError(f"scenarios must be a YAML file, got {self.scenarios!r}")
        return load_scenarios(self.scenarios)

    def population_spec(self) -> Population:
        spec = dict(self.population or {})
        unknown = sorted(set(spec) - {"means", "sds"})
        if unknown:
            raise ValueError(f"population: unknown key {unknown[0]!r}; allowed: ['means', 'sds']")
        base = Population()
        return Population(
            means={**base.means, **dict(spec.get("means") or {})},
            sds={**base.sds, **dict(spec.get("sds") or {})},
        )
