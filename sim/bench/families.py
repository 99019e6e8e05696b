"""`mercato bench llm --structured`: how often a model's own reply becomes the action, per family.

For each env family one small cell is played through the real engine (in-process), with the LLM
in its roles and scripted players elsewhere, once with structured replies on and once off. The
share of LLM decisions whose action was parsed from the model's first reply (no re-ask, no
constrained choice, no default) is read back from the steps table: the number a researcher needs
before reading any result of that model as its behaviour.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.bench.presets import presets

LLM_OPTIONS = {"max_reasks": 0, "use_choice_fallback": False}
"""One reply per decision (the protocol's reply budget), no re-ask, no constrained choice: the
parse share measures the first reply alone (and the bench does not spend time on fallbacks)."""

STRUCTURED_ON = {"local": "grammar", "openai": "json_schema", "fake": "json_schema"}
"""Each backend's structured mode when structured replies are on."""


@dataclass(frozen=True)
class FamilyCase:
    """One family's cell: the env, its parameters and who plays (``LLM`` marks the model)."""

    family: str
    env: str
    params: Mapping[str, Any]
    roster: Mapping[str, Any]
    episodes: int


LLM = "<llm>"

FAMILY_CASES = tuple(FamilyCase(**case) for case in presets()["families"])
"""One small cell per family (`sim/bench/presets.yaml`)."""


@dataclass(frozen=True)
class FamilyShare:
    """One family under one structured mode: LLM decisions and how many parsed at once."""

    family: str
    structured: str
    decisions: int
    parsed: int
    completion_tokens: int
    seconds: float

    @property
    def share(self) -> float:
        return self.parsed / self.decisions if self.decisions else float("nan")


def experiment_for(case: FamilyCase, model_spec: Any, params: Mapping[str, Any]) -> dict:
    """The case as an experiment: the LLM roles use ``model_spec`` with `LLM_OPTIONS`."""
    llm = {"policy": "llm", "model": "bench", "options": dict(LLM_OPTIONS)}
    roster = {role: llm if who == LLM else who for role, who in case.roster.items()}
    return {
        "name": f"bench-{case.family}",
        "env": case.env,
        "params": {**case.params, **params},
        "models": {"bench": model_spec},
        "roster": roster,
        "episodes": case.episodes,
        "seed": 0,
        "shard_size": case.episodes,
        "lockstep": case.episodes,
        "max_fallback_rate": 1.0,  # measured here, not judged
    }


def text_params(case: FamilyCase) -> dict[str, Any]:
    """The parameters that give the case's env text observations (for its LLM players)."""
    from sim.engine.cells import env_parameters

    return {"text_observations": True} if "text_observations" in env_parameters(case.env) else {}


def family_share(case: FamilyCase, model_spec: Any, structured: str) -> FamilyShare:
    """Play the case in-process once; count its LLM decisions and first-reply parses."""
    import time

    from sim.engine.batch import run
    from sim.store.runs import load_steps

    spec = {**_as_dict(model_spec), "structured": structured}
    params = text_params(case)
    with tempfile.TemporaryDirectory(prefix="mercato-bench-") as scratch:
        started = time.perf_counter()
        out = run(experiment_for(case, spec, params), workers=0, out=Path(scratch) / "run")
        seconds = time.perf_counter() - started
        steps = load_steps(out)
    llm = steps[steps["parse_status"].notna()]
    return FamilyShare(
        case.family,
        structured,
        len(llm),
        int((llm["parse_status"] == "parsed").sum()),
        int(llm["llm_completion_tokens"].sum()),
        seconds,
    )


def _as_dict(spec: Any) -> dict[str, Any]:
    from sim.llm.spec import parse_spec

    return parse_spec(spec) if isinstance(spec, str) else dict(spec)
