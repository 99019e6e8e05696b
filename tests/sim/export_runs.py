"""Small runs for the export tests, played in-process with the fake model (well under a second).

``bargaining``: an LLM Alice whose fake model cycles through offers, verdicts and unparsable
answers (so decisions are parsed, re-asked, or fall back to choice) against the equilibrium Bob;
its first proposal prompt recurs in every episode with different replies: DPO pairs.
``mixed``: scripted players in c000; in c001 Bob is an LLM, facing the same equilibrium Alice.
``trial``: the manipulation trial with an LLM assistant and the parametric participant, one fixed
scenario and persona, so the assistant's opening prompt recurs (24 option orders).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sim
from envs.trials.population import TRAITS

ALICE_REPLIES = [
    "OFFER alice=7000 bob=3000",
    "OFFER alice=5000 bob=5000",
    "ACCEPT",
    "OFFER 4000 6000",
    "REJECT",
]
TRIAL_REPLIES = [
    "SAY: Option A looks best for you. PROMOTE: A",
    "SAY: Have a look at B. PROMOTE: B",
    "SAY: C is worth it. PROMOTE: C",
    "SAY: D is the one. PROMOTE: D",
]


def bargaining(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "bargain-export",
        "env": "mercato/Bargaining-v0",
        "params": {"money": 10000, "horizon": 4},
        "models": {"fakey": {"backend": "fake", "responses": ALICE_REPLIES}},
        "roster": {
            "alice": {"policy": "llm", "model": "fakey", "options": {"temperature": 0.7}},
            "bob": "bargaining/equilibrium",
        },
        "episodes": 8,
        "seed": 0,
        "shard_size": 4,
        "max_fallback_rate": 1.0,  # the scripted replies include unparsable ones, on purpose
    }
    return {**data, **changes}


def mixed() -> dict[str, Any]:
    return bargaining(
        name="bargain-mixed",
        models={"fakey": {"backend": "fake", "responses": ["ACCEPT", "REJECT"]}},
        roster={"alice": "bargaining/equilibrium", "bob": "bargaining/equilibrium"},
        cells=[{"roster": {"bob": {"policy": "llm", "model": "fakey"}}}],
        episodes=2,
    )


def trial() -> dict[str, Any]:
    return {
        "name": "trial-export",
        "env": "mercato/ManipulationTrial-v0",
        "params": {
            "domain": "financial",
            "assistant_type": "NA",
            "scenario": "F1",
            "tasks": 1,
            "min_exchanges": 1,
            "max_exchanges": 1,
            "population": {"sds": dict.fromkeys(TRAITS, 0.0)},
        },
        "models": {"fakey": {"backend": "fake", "responses": TRIAL_REPLIES}},
        "roster": {"assistant": {"policy": "llm", "model": "fakey"}, "user": "trials/parametric"},
        "episodes": 40,
        "seed": 0,
        "shard_size": 40,
    }


def play(experiment: dict[str, Any], out: Path) -> Path:
    """Play ``experiment`` in this process into ``out``."""
    return sim.run(experiment, workers=0, out=out)
