"""The generic importer: any registered reader's games become a run directory, named after the
source and nothing else (GLEE's own import is tested in test_glee.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import sim.store.importer
from envs.core.imported import ImportedGame, ImportedStep, SkippedGame
from sim.store.importer import import_games, reader_for
from sim.store.runs import load, read_manifest

TOY_ENV = "mercato/ToyImport-v0"


def read_toy(source_dir: Path):
    """A toy log format: one game per ``*.json`` file, ``bad*`` files skipped."""
    for path in sorted(source_dir.glob("*.json")):
        if path.name.startswith("bad"):
            yield SkippedGame(path, "unreadable", "a bad file")
            continue
        data = json.loads(path.read_text())
        yield ImportedGame(
            location=path,
            game_id=path.stem,
            env_id=TOY_ENV,
            params={"size": data["size"]},
            roster={"player_0": "toy:a"},
            players={"player_0": {"label": "a"}},
            metrics={"score": data["score"]},
            returns={"player_0": data["score"] * 2},
            steps=(ImportedStep("player_0", {"move": 1}, "hi", {"turn": 1}),),
        )


@pytest.fixture
def toy_source(monkeypatch, tmp_path):
    spec = SimpleNamespace(importers={"toy": "tests.sim.test_importer:read_toy"})
    monkeypatch.setattr(sim.store.importer, "list_envs", lambda: [spec])
    source = tmp_path / "logs"
    source.mkdir()
    for name, size, score in (("g2", 3, 0.5), ("g1", 3, 0.25), ("g3", 4, 1.0)):
        (source / f"{name}.json").write_text(json.dumps({"size": size, "score": score}))
    (source / "bad.json").write_text("{}")
    return source


def test_any_registered_reader_fills_a_run(toy_source, tmp_path):
    run_dir = import_games("toy", toy_source, tmp_path / "run")
    manifest = read_manifest(run_dir).to_json()
    assert manifest["source"] == manifest["name"] == "toy"
    assert manifest["env"] == TOY_ENV and manifest["run_id"].startswith("toy-")
    assert manifest["games"] == {"found": 4, "imported": 3, "skipped": 1}
    assert manifest["skipped"]["games"] == [
        {"game": "bad.json", "kind": "unreadable", "reason": "a bad file"}
    ]
    assert [c["roster"] for c in manifest["cells"]] == [
        {"player_0": {"policy": "toy:a", "label": "a"}}
    ] * 2
    episodes, steps = load(run_dir)
    assert list(episodes["episode_id"]) == ["c000-e00000", "c000-e00001", "c001-e00000"]
    assert list(episodes["metric_score"]) == [0.25, 0.5, 1.0]  # by cell, then game id
    assert list(episodes["return_player_0"]) == [0.5, 1.0, 2.0]
    assert list(steps["role"]) == ["player"] * 3
    assert json.loads(steps["info"][0]) == {"turn": 1}
    index = (run_dir / "toy_games.csv").read_text().splitlines()
    assert index == [
        "episode_id,cell_id,game_id,path",
        "c000-e00000,c000,g1,g1.json",
        "c000-e00001,c000,g2,g2.json",
        "c001-e00000,c001,g3,g3.json",
    ]


def test_an_unknown_source_names_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"no env imports 'nope' logs; known sources: \['glee'\]"):
        import_games("nope", tmp_path, tmp_path / "run")


def test_glee_is_read_by_the_games_family():
    assert reader_for("glee").__module__ == "envs.games.glee_format"
