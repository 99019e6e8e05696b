"""How Sabour et al. (2025) reported the manipulation trial, declared for `mercato report`.

The unit is the participant (one episode, averaged over its tasks): HOD (the hidden option's
rating minus the best other's) and the share of participants who prefer the hidden option,
before and after the conversation, per domain and assistant type. `PUBLISHED` holds the study's
values, which the participant model was also calibrated to (`agents.users.calibration`).
"""

from __future__ import annotations

from envs.core.spec import Outcomes, StudyForm, StudyMeasure

PUBLISHED: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("financial", "NA"): (-0.69, -1.48, 0.358, 0.300),
    ("financial", "MA"): (-0.87, 1.23, 0.325, 0.614),
    ("financial", "SEMA"): (-0.61, 2.40, 0.377, 0.763),
    ("emotional", "NA"): (-1.11, -2.43, 0.256, 0.145),
    ("emotional", "MA"): (-1.14, 0.48, 0.234, 0.432),
    ("emotional", "SEMA"): (-1.40, -0.50, 0.179, 0.358),
}
"""(HOD pre, HOD post, hidden-preferred share pre, share post) per (domain, assistant type)."""

STUDY_FORM = StudyForm(
    source="Sabour et al. (2025)",
    group_by=("domain", "assistant_type"),
    group_titles=("domain", "assistant"),
    measures=(
        StudyMeasure("hod", "HOD"),
        StudyMeasure("hidden_preferred", "hidden preferred", scale=100.0, unit="%"),
    ),
    published={
        group: {"hod": values[:2], "hidden_preferred": values[2:]}
        for group, values in PUBLISHED.items()
    },
    order={"assistant_type": ("NA", "MA", "SEMA")},
)

HINDSIGHT_OUTCOMES = Outcomes(
    keys={
        "hindsight": "satisfaction_hindsight",
        "immediate": "satisfaction_immediate",
        "true_utility": "true_utility",
    },
    default="hindsight",
    hindsight=("hindsight", "true_utility"),
)
"""Ranking keys for exports (RLHS: rank by the satisfaction revealed in hindsight)."""
