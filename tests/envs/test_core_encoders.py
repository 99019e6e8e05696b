"""Observation encoders: Dict observations as flat Boxes that RL libraries accept."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401
from sim.rl.encoders import FlattenObservation, ObservationEncoder
from sim.rl.views import view_ids


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")  # on purpose
@pytest.mark.parametrize("view", view_ids())
def test_every_view_flattens_to_a_box_that_passes_check_env(view):
    env = FlattenObservation(gymnasium.make(view))
    assert isinstance(env.observation_space, gymnasium.spaces.Box)
    check_env(env, skip_render_check=True)
    observation, _ = env.reset(seed=0)
    assert observation.dtype == np.float32 and observation.shape == env.observation_space.shape


def test_discrete_components_become_one_hots_in_key_order():
    space = gymnasium.spaces.Dict(
        {
            "b": gymnasium.spaces.Discrete(3),
            "a": gymnasium.spaces.Box(0, 1, (2,)),
            "t": gymnasium.spaces.Text(5),
        }
    )
    encoder = ObservationEncoder(space)
    vector = encoder({"a": np.array([0.25, 0.5], np.float32), "b": 2, "t": "hi"})
    assert list(vector) == [0.25, 0.5, 0.0, 0.0, 1.0]  # Dict keys sort: a, b; text dropped


def test_text_can_be_embedded():
    calls = []

    def fake_encode(texts):
        calls.append(list(texts))
        return np.full((len(texts), 384), 0.5, np.float32)

    env = FlattenObservation(
        gymnasium.make("mercato/ManipulationTrial-Assistant-v0"),
        embed_text=True,
        encode=fake_encode,
    )
    observation, _ = env.reset(seed=0)
    assert observation.shape == env.observation_space.shape and observation[-1] == 0.5
    assert "Options:" in calls[0][0]
    with pytest.raises(ValueError, match="has no numeric component"):
        ObservationEncoder(gymnasium.spaces.Dict({"t": gymnasium.spaces.Text(5)}))


def test_the_real_sentence_encoder_embeds_the_text_view():
    env = FlattenObservation(gymnasium.make("mercato/Bargaining-Bob-v0"), embed_text=True)
    observation, _ = env.reset(seed=0)
    text_part = observation[-384:]
    assert np.linalg.norm(text_part) == pytest.approx(1.0, abs=1e-4)
