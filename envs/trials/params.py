"""The trial's parameters, validated once at construction (one clear error per bad field)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.core.turns import refuse_unknown
from envs.trials.population import Population
from envs.trials.scenarios import DOMAINS, Scenario, load_scenarios, scenarios_for

AGENT_TYPES: tuple[str, ...] = ("NA", "MA", "SEMA")
HINDSIGHT: tuple[str, ...] = ("none", "partial", "full")


def _int(name: str, value: Any, low: int, high: int) -> int:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


@dataclass(frozen=True)
class TrialParams:
    """Every constructor parameter of the trial env (see its docstring for meanings)."""

    domain: str = "financial"
    assistant_type: str = "NA"
    scenario: str | None = None
    tasks: int = 1
    min_exchanges: int = 10
    max_exchanges: int = 20
    principal: bool = False
    payoff: Sequence[float] = (100.0, 50.0, 0.0)
    hindsight: str = "partial"
    scenarios: str | None = None
    population: Mapping[str, Any] | None = None
    text_observations: bool = True
    message_length: int = 1000

    @classmethod
    def checked(cls, **params: Any) -> TrialParams:
        refuse_unknown(cls, params)
        p = cls(**params)
        if p.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {p.domain!r}")
        if p.assistant_type not in AGENT_TYPES:
            raise ValueError(
                f"assistant_type must be one of {AGENT_TYPES}, got {p.assistant_type!r}"
            )
        if p.hindsight not in HINDSIGHT:
            raise ValueError(f"hindsight must be one of {HINDSIGHT}, got {p.hindsight!r}")
        library = p.library()
        ids = [s.id for s in scenarios_for(p.domain, library)]
        if not ids:
            raise ValueError(f"scenarios: no {p.domain} scenario in {p.scenarios or 'the library'}")
        if p.scenario is not None and p.scenario not in ids:
            raise ValueError(
                f"scenario must be one of {ids} (domain {p.domain}), got {p.scenario!r}"
            )
        _int("tasks", p.tasks, 1, 1 if p.scenario is not None else len(ids))
        _int("min_exchanges", p.min_exchanges, 0, 100)
        _int("max_exchanges", p.max_exchanges, max(1, p.min_exchanges), 200)
        _int("message_length", p.message_length, 1, 10_000)
        payoff = tuple(p.payoff) if isinstance(p.payoff, Sequence) else ()
        if len(payoff) != 3 or not all(
            isinstance(x, numbers.Real) and 0 <= x <= 100 for x in payoff
        ):
            raise ValueError(
                f"payoff must be 3 numbers in [0, 100] (hidden, other, optimal), got {p.payoff!r}"
            )
        for name in ("principal", "text_observations"):
            if not isinstance(getattr(p, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(p, name)!r}")
        if p.population is not None and not isinstance(p.population, Mapping):
            raise ValueError(f"population must be a mapping {{means, sds}}, got {p.population!r}")
        p.population_spec()
        return cls(**{**params, "payoff": tuple(float(x) for x in payoff)})

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
