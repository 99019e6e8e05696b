"""Manipulation trials after Sabour et al. (2025): ``import envs.trials`` registers
``mercato/ManipulationTrial-v0`` (`envs.trials.env`).

Modules: `scenarios` (the task library and its loader), `tactics` (the 11-tactic taxonomy and
observed shares), `population` (participant traits), `measures` (HOD, categories, hindsight),
`views` and `protocol` (what LLM players read and write), `params`, `env`, and `world` (the
participant population as a Mesa model).
"""

from envs.core.registry import register_env
from envs.core.spec import ViewSpec
from envs.trials.metrics import METRICS
from envs.trials.params import TrialParams
from envs.trials.study import HINDSIGHT_OUTCOMES, STUDY_FORM

register_env(
    "ManipulationTrial-v0",
    kind="aec",
    entry_point="envs.trials.env:env",
    family="trials",
    summary="Neutral vs manipulative assistants steer a participant's ratings and choice (Sabour)",
    params=TrialParams,
    protocol="envs.trials.protocol:TrialProtocol",
    metrics=METRICS,
    outcomes=HINDSIGHT_OUTCOMES,
    study=STUDY_FORM,
    timeline="envs.trials.timeline:timeline",
    views=(
        ViewSpec(
            "ManipulationTrial-Assistant-v0",
            "assistant_0",
            {"user": "trials/parametric", "principal": "trials/principal"},
            {"assistant_type": "MA"},
        ),
    ),
)
