"""Action grids and the encoded PettingZoo env: decoding, nearest-index, masks, PettingZoo's API."""

from __future__ import annotations

import gymnasium
import numpy as np
import pettingzoo
import pytest
from gymnasium.spaces import Box, Dict, Discrete, Text
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test

import envs  # noqa: F401
import sim  # noqa: F401  (registers the single-agent views)
from sim.rl.action_grid import ActionGrid, DiscreteActions
from sim.rl.encoders import FlattenObservation
from sim.rl.pettingzoo_encoders import EncodedAEC

SPACE = Dict(
    {
        "decision": Discrete(3),
        "share": Box(0.0, 1.0, (1,), np.float64),
        "message": Text(50, min_length=0),
    }
)


def test_every_index_decodes_to_a_distinct_action_in_the_space():
    grid = ActionGrid(SPACE, bins=5)
    assert grid.n == 15
    seen = set()
    for index in range(grid.n):
        action = grid(index)
        assert SPACE.contains(action)
        assert action["message"] == ""
        seen.add((int(action["decision"]), float(action["share"][0])))
        assert grid.index_of(action) == index
    assert len(seen) == 15
    assert {share for _, share in seen} == {0.0, 0.25, 0.5, 0.75, 1.0}


def test_index_of_takes_the_nearest_amount():
    grid = ActionGrid(SPACE, bins=5)
    index = grid.index_of({"decision": 2, "share": np.array([0.6]), "message": "hi"})
    assert int(grid(index)["decision"]) == 2
    assert grid(index)["share"][0] == pytest.approx(0.5)


def test_ranges_fixed_and_choices_shape_the_grid():
    wide = Dict({"decision": Discrete(4), "price": Box(0.0, 1e5, (1,)), "note": Text(9)})
    options = {
        "ranges": {"price": (100, 300)},
        "fixed": {"note": "ok"},
        "choices": {"decision": [1, 3]},
    }
    grid = ActionGrid(wide, bins=3, **options)
    actions = [grid(i) for i in range(grid.n)]
    assert grid.n == 6
    assert {int(a["decision"]) for a in actions} == {1, 3}
    assert {float(a["price"][0]) for a in actions} == {100.0, 200.0, 300.0}
    assert all(a["note"] == "ok" and wide.contains(a) for a in actions)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bins": 1}, "bins: expected an integer >= 2"),
        ({"ranges": {"nope": (0, 1)}}, "ranges: unknown action keys ['nope']"),
        ({"choices": {"decision": [7]}}, "choices: 'decision' takes values from [0, 1, 2]"),
    ],
)
def test_bad_grid_options_name_the_field(options, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ActionGrid(SPACE, **options)


def test_an_unbounded_amount_needs_a_range():
    with pytest.raises(ValueError, match="ranges: give 'price' a finite range"):
        ActionGrid(Dict({"price": Box(0.0, np.inf, (1,))}))


def test_required_text_needs_a_fixed_value():
    with pytest.raises(ValueError, match="fixed: 'note' is text of at least 1 characters"):
        ActionGrid(Dict({"decision": Discrete(2), "note": Text(9)}))


def test_the_mask_follows_the_decision_mask():
    grid = ActionGrid(SPACE, bins=2)
    mask = grid.mask({"decision": np.array([0, 1, 1], np.int8), "share": None, "message": None})
    assert mask.tolist() == [int(grid(i)["decision"]) != 0 for i in range(grid.n)]
    assert grid.mask(None).all()


def test_discrete_actions_view_passes_check_env_and_exposes_masks():
    env = DiscreteActions(FlattenObservation(gymnasium.make("mercato/Bargaining-Bob-v0")), bins=6)
    check_env(env.unwrapped)
    observation, _ = env.reset(seed=3)
    assert env.observation_space.contains(observation)
    assert env.action_space == Discrete(18)
    masks = env.action_masks()
    assert masks.shape == (18,) and masks.any() and not masks.all()  # Bob responds first
    _, reward, *_ = env.step(int(np.flatnonzero(masks)[0]))
    assert isinstance(reward, float)


@pytest.mark.parametrize(
    ("env_id", "options"),
    [
        ("mercato/Bargaining-v0", {}),
        ("mercato/Negotiation-v0", {"ranges": {"price": (0.0, 2000.0)}}),
        ("mercato/Persuasion-v0", {}),
    ],
)
def test_encoded_games_pass_the_pettingzoo_api_test(env_id, options):
    env = EncodedAEC(pettingzoo.make("aec", env_id), **options)
    api_test(env, num_cycles=60)
    env.reset(seed=1)
    observation, *_, info = env.last()
    agent = env.agent_selection
    assert env.observation_space(agent).contains(observation)
    assert info["action_mask"].shape == (env.action_space(agent).n,)


def test_encoded_aec_can_embed_the_text_part():
    def fake_encode(texts):
        return np.full((len(texts), 384), 0.25, np.float32)

    plain = EncodedAEC(pettingzoo.make("aec", "mercato/Bargaining-v0", messages=True))
    embedded = EncodedAEC(
        pettingzoo.make("aec", "mercato/Bargaining-v0", messages=True),
        embed_text=True,
        encode=fake_encode,
    )
    api_test(embedded, num_cycles=20)
    embedded.reset(seed=0)
    observation = embedded.last()[0]
    agent = embedded.agent_selection
    assert observation.shape[0] == plain.observation_space(agent).shape[0] + 384
    assert (observation[-384:] == 0.25).all()
