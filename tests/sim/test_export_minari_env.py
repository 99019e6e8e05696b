"""Minari exports a user can load anywhere: relative ``--out``, ``recover_environment()`` through
the registered view, and a card with a license, a citation and a loading snippet without
absolute local paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sim.export import export_run
from tests.sim.export_runs import bargaining, play

minari = pytest.importorskip("minari")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scripted players in two cells of different patience, so the cell's parameters matter."""
    experiment = bargaining(
        name="bargain-env",
        roster={"alice": "bargaining/equilibrium", "bob": "bargaining/equilibrium"},
        params={"money": 100, "horizon": 5},
        grid={"discount_bob": [0.5, 0.7]},
        episodes=2,
    )
    return play(experiment, tmp_path_factory.mktemp("runs") / "bargain-env")


def test_a_relative_out_exports_and_loads_back(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = export_run(run, "minari", "data/minari", agent="bob_0", cells=["c001"])
    assert result.out == Path("data/minari") and result.rows == 2
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["minari"]
    monkeypatch.setenv("MINARI_DATASETS_PATH", "data/minari")
    dataset = minari.load_dataset(result.dataset_id)
    assert dataset.total_episodes == 2


def test_the_dataset_recovers_the_registered_view_with_the_cells_setting(
    run, tmp_path, monkeypatch
):
    out = tmp_path / "minari"
    result = export_run(run, "minari", out, agent="bob_0", cells=["c001"])
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(out))
    dataset = minari.load_dataset(result.dataset_id)
    assert dataset.env_spec is not None and dataset.env_spec.id == "mercato/Bargaining-Bob-v0"
    assert dataset.env_spec.kwargs["opponents"] == {"alice_0": "bargaining/equilibrium"}
    env = dataset.recover_environment()
    try:
        view = env.unwrapped
        assert view.learner == "bob_0" and view.env_id == "mercato/Bargaining-v0"
        params = view.env.unwrapped.params
        assert (params.discount_bob, params.money, params.horizon) == (0.7, 100, 5)
        observation, _ = env.reset(seed=0)  # Minari stores free text as gymnasium's Text
        assert dataset.observation_space.contains(observation)
        dataset.action_space.seed(0)
        assert env.action_space.contains(dataset.action_space.sample())
        assert set(env.observation_space.spaces) == set(dataset.observation_space.spaces)
    finally:
        env.close()


def test_the_card_has_license_citation_and_a_snippet_that_runs_from_its_folder(
    run, tmp_path, monkeypatch
):
    out = tmp_path / "minari"
    result = export_run(run, "minari", out, agent="bob_0", cells=["c000"])
    card = (out / "README.md").read_text(encoding="utf-8")
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["license"] == "apache-2.0"
    assert "## Citation" in body and "@misc{" in body and result.dataset_id in body
    snippet = re.search(r"## Loading\n\n```python\n(.*?)```", body, re.DOTALL)
    assert snippet is not None
    assert str(tmp_path) not in snippet.group(1) and "recover_environment()" in snippet.group(1)
    monkeypatch.chdir(out)  # the snippet loads the folder it sits in
    monkeypatch.setenv("MINARI_DATASETS_PATH", "")  # the snippet sets it; restored after
    namespace: dict = {}
    exec(snippet.group(1), namespace)
    assert namespace["dataset"].total_episodes == 2
    namespace["env"].close()


def test_hugging_face_cards_have_license_citation_and_a_relative_snippet(tmp_path, monkeypatch):
    llm_run = play(bargaining(episodes=2), tmp_path / "llm")
    out = tmp_path / "sft"
    result = export_run(llm_run, "sft", out, license="cc-by-4.0")
    card = (out / "README.md").read_text(encoding="utf-8")
    _, front, body = card.split("---\n", 2)
    assert yaml.safe_load(front)["license"] == "cc-by-4.0"
    assert "## Citation" in body and "@misc{" in body
    snippet = re.search(r"## Loading\n\n```python\n(.*?)```", body, re.DOTALL)
    assert snippet is not None and str(tmp_path) not in snippet.group(1)
    monkeypatch.chdir(out)
    namespace: dict = {}
    exec(snippet.group(1), namespace)
    assert len(namespace["dataset"]) == result.rows
