"""The shipped participant calibration reproduces the study's per-cell results through the env.

Each cell plays 300 simulated participants x 3 tasks through `mercato/ManipulationTrial-v0` with
the scripted assistant and the calibrated `trials/parametric` participant, on the unwrapped env as
the engine's rollout steps it (the order and action checks are tested elsewhere).
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.users.calibration import TARGETS, simulate
from agents.users.parametric import calibrated_parameters
from envs.trials.env import env
from tests.envs.trials.playing import play

PARTICIPANTS = 300

pytestmark = pytest.mark.slow  # the cells play 1,800 participants (about 20 s)


@pytest.fixture(scope="module")
def cells() -> dict[tuple[str, str], dict[str, float]]:
    results = {}
    for domain in ("financial", "emotional"):
        for agent in ("NA", "MA", "SEMA"):
            wrapped = env(domain=domain, assistant_type=agent, tasks=3, text_observations=False)
            trial = wrapped.unwrapped  # as the engine steps it: the checking wrappers cost ~40%
            metrics = [play(trial, seed=i)["metrics"] for i in range(PARTICIPANTS)]
            results[(domain, agent)] = {
                key: float(np.mean([m[key] for m in metrics]))
                for key in ("hod_pre", "hod_post", "hidden_preferred_pre", "hidden_preferred_post")
            }
    return results


@pytest.mark.parametrize("cell", sorted(TARGETS), ids=lambda c: f"{c[0]}-{c[1]}")
def test_post_chat_hidden_preferred_share_is_within_5_points_of_the_study(cells, cell):
    study_share_post = TARGETS[cell][3]
    assert cells[cell]["hidden_preferred_post"] == pytest.approx(study_share_post, abs=0.05)


@pytest.mark.parametrize("domain", ["financial", "emotional"])
def test_manipulators_beat_the_neutral_assistant(cells, domain):
    na, ma, sema = (cells[(domain, a)] for a in ("NA", "MA", "SEMA"))
    for measure in ("hidden_preferred_post", "hod_post"):
        assert na[measure] < ma[measure] and na[measure] < sema[measure]
    assert na["hod_post"] < na["hod_pre"] < ma["hod_post"]  # neutral help lowers HOD


def test_the_env_and_the_vectorised_calibration_agree(cells):
    parameters = calibrated_parameters()
    for (domain, agent), got in cells.items():
        simulated = simulate(domain, agent, parameters[domain], 20_000, seed=7)
        assert got["hidden_preferred_post"] == pytest.approx(simulated["share_post"], abs=0.05)
        assert got["hod_post"] == pytest.approx(simulated["hod_post"], abs=0.35)
