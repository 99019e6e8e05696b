"""Minari exports (one agent's view, loaded back) and JSON re-hydration into gymnasium spaces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from envs.core.spaces import FreeText
from sim.engine.records import to_json
from sim.export import ExportError, export_run, minari_episodes, rehydrate
from sim.store.runs import load
from tests.sim.export_runs import bargaining, play

minari = pytest.importorskip("minari")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return play(bargaining(), tmp_path_factory.mktemp("runs") / "bargaining")


@pytest.mark.parametrize("agent", ["alice_0", "bob_0"])
def test_an_agents_view_round_trips_through_minari(run, tmp_path, monkeypatch, agent):
    out = tmp_path / "minari"
    result = export_run(run, "minari", out, agent=agent)
    episodes, steps = load(run)
    assert result.rows == len(episodes)
    assert result.dataset_id == f"mercato/Bargaining-{agent}/bargain-export-v0"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(out))
    dataset = minari.load_dataset(result.dataset_id)
    assert dataset.total_episodes == len(episodes)
    mine = steps[(steps["agent"] == agent) & steps["action"].notna()]
    assert dataset.total_steps == len(mine) == result.steps
    assert isinstance(dataset.observation_space, spaces.Dict)
    assert isinstance(dataset.observation_space["last_message"], spaces.Text)
    returns = dict(zip(episodes["episode_id"], episodes[f"return_{agent}"], strict=True))
    for episode, episode_id in zip(dataset.iterate_episodes(), episodes["episode_id"], strict=True):
        actions = episode.actions["decision"]
        assert len(episode.observations["round"]) == len(actions) + 1
        assert len(episode.observations["last_message"]) == len(actions) + 1
        assert episode.rewards.sum() == pytest.approx(returns[episode_id])
        assert episode.terminations[-1] and not episode.terminations[:-1].any()
        stored = mine[mine["episode_id"] == episode_id]
        assert actions.tolist() == [json.loads(a)["decision"] for a in stored["action"]]
        first = json.loads(stored["observation"].iloc[0])
        assert episode.observations["round"][0] == first["round"]
        np.testing.assert_allclose(episode.observations["money"][0], first["money"])
    card = (out / "README.md").read_text(encoding="utf-8")
    assert result.dataset_id in card and "MINARI_DATASETS_PATH" in card


def test_minari_needs_one_agent_on_a_multi_agent_env(run, tmp_path):
    with pytest.raises(ExportError) as caught:
        export_run(run, "minari", tmp_path / "m")
    assert str(caught.value) == (
        "minari datasets are single-agent; pass --agent one of ['alice_0', 'bob_0'] to export "
        "that agent's view (or use sft/dpo/kto for multi-agent data)"
    )
    with pytest.raises(ExportError, match=r"unknown agent 'eve_0'; this run has \['alice_0'"):
        minari_episodes(run, "eve_0")
    assert not (tmp_path / "m").exists()


def test_cells_with_different_spaces_need_a_cell_choice(tmp_path):
    grid_run = play(
        bargaining(
            name="bargain-grid",
            roster={"alice": "bargaining/equilibrium", "bob": "bargaining/equilibrium"},
            params={"money": 100},
            grid={"horizon": [3, 5]},
            episodes=1,
        ),
        tmp_path / "grid",
    )
    with pytest.raises(ExportError, match=r"spaces differ between cells .* pass --cell one of"):
        minari_episodes(grid_run, "alice_0")
    one = minari_episodes(grid_run, "alice_0", cells=["c001"])
    assert one.episode_ids == ["c001-e00000"]
    assert one.observation_space["round"] == spaces.Discrete(5, start=1)


# --- re-hydration ---

SPACE = spaces.Dict(
    {
        "box": spaces.Box(0, 1, (2, 2), np.float32),
        "mask": spaces.Box(0, 1, (3,), np.int8),
        "n": spaces.Discrete(4, start=1),
        "text": FreeText(20),
        "bits": spaces.MultiBinary(3),
        "counts": spaces.MultiDiscrete([2, 3]),
        "pair": spaces.Tuple((spaces.Discrete(2), spaces.Text(5))),
        "seq": spaces.Sequence(spaces.Discrete(3)),
        "nested": spaces.Dict({"x": spaces.Box(-1, 1, (1,), np.float64)}),
    }
)


def test_values_come_back_in_their_spaces_from_stored_json():
    value = SPACE.sample()
    value["text"] = "café ok"
    back = rehydrate(json.loads(to_json(value)), SPACE)
    assert SPACE.contains(back)
    assert back["box"].dtype == np.float32 and back["box"].shape == (2, 2)
    np.testing.assert_array_equal(back["mask"], value["mask"])
    assert type(back["n"]) is int and back["n"] == value["n"]
    assert back["text"] == "café ok" and back["pair"] == tuple(value["pair"])
    assert back["seq"] == tuple(value["seq"])


def test_json_that_does_not_fit_the_space_is_one_clear_line():
    with pytest.raises(ExportError, match=r"obs: missing key\(s\) \['bits', 'counts'"):
        rehydrate({"box": [[0, 0], [0, 0]]}, SPACE, "obs")
    with pytest.raises(ExportError, match=r"obs.box: .* does not fit Box"):
        rehydrate({**json.loads(to_json(SPACE.sample())), "box": [1, 2, 3]}, SPACE, "obs")
