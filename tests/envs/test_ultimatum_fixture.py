"""The ultimatum fixture's game: the reference env other tests lean on must itself be right."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tests.envs_fixtures.ultimatum import ACCEPT, PROPOSER, REJECT, RESPONDER, env, raw_env


def play(offer: int, verdict: int, message: Any = "", seed: int = 0) -> Any:
    game = env()
    game.reset(seed=seed)
    game.step({"offer": offer, "message": message})
    game.step(verdict)
    return game


@pytest.mark.parametrize("offer", [0, 3, 10])
def test_accepted_offer_splits_the_pie(offer: int) -> None:
    game = play(offer, ACCEPT)
    pie = game.unwrapped._pie
    assert game.rewards == {PROPOSER: pie * (10 - offer) / 10, RESPONDER: pie * offer / 10}
    for agent in (PROPOSER, RESPONDER):
        assert game.infos[agent] == {"pie": pie, "offer": offer, "accepted": True}
        assert game.terminations[agent] is True


def test_rejection_pays_nothing() -> None:
    game = play(4, REJECT)
    assert game.rewards == {PROPOSER: 0.0, RESPONDER: 0.0}
    assert game.infos[RESPONDER]["accepted"] is False


def test_pie_comes_from_the_reset_seed() -> None:
    pies = {seed: play(5, ACCEPT, seed=seed).unwrapped._pie for seed in range(8)}
    assert play(5, ACCEPT, seed=3).unwrapped._pie == pies[3]
    assert len(set(pies.values())) > 1
    assert all(10 <= pie <= 100 for pie in pies.values())


def test_responder_sees_offer_mask_and_normalised_message() -> None:
    game = env()
    game.reset(seed=0)
    proposer_obs, *_, proposer_info = game.last()
    assert "action_mask" not in proposer_obs
    assert set(proposer_info["action_mask"]) == {"offer", "message"}
    game.step({"offer": 7, "message": "cafe\u0301 $80?"})
    observation, *_ = game.last()
    assert game.agent_selection == RESPONDER
    assert int(observation["offer"]) == 7
    assert observation["last_message"] == "café $80?"
    assert observation["action_mask"].tolist() == [1, 1]
    assert game.observation_space(RESPONDER).contains(observation)


def test_out_of_space_action_names_agent_and_space() -> None:
    game = raw_env()
    game.reset(seed=0)
    with pytest.raises(ValueError, match=r"proposer_0: .* is not in Dict"):
        game.step({"offer": 11, "message": ""})


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_pie": 0}, "min_pie"),
        ({"min_pie": 50, "max_pie": 20}, "max_pie"),
        ({"max_cycles": 0}, "max_cycles"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_invalid_parameters_fail_at_construction(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        raw_env(**kwargs)


def test_ansi_render_and_pickling() -> None:
    game = env(render_mode="ansi")
    game.reset(seed=0)
    game.step({"offer": 2, "message": "hi"})
    game.step(REJECT)
    assert game.render().endswith("offer 2/10; message 'hi'; rejected")
    clone = pickle.loads(pickle.dumps(game.unwrapped))
    assert clone.render_mode == "ansi"


def test_spaces_are_the_same_objects_every_call() -> None:
    game = raw_env()
    for agent in game.possible_agents:
        assert game.observation_space(agent) is game.observation_space(agent)
        assert game.action_space(agent) is game.action_space(agent)
