"""Model management: idempotent pull, honest listing, helpful errors; no weights in the repo."""

from __future__ import annotations

import json
import subprocess

import pytest

from sim.llm import ModelNotFoundError, model_store
from sim.llm.model_store import COMPLETE_MARKER, list_models, model_path, pull, require_model


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    return tmp_path


def _fake_conversion(gguf, out):
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({"from": gguf.name}))


def test_cache_location_follows_mercato_cache(empty_cache):
    assert model_path() == empty_cache / "models" / "smollm2-135m-instruct"


def test_pull_converts_once_then_returns_at_once(empty_cache, monkeypatch):
    conversions = []
    monkeypatch.setattr(
        model_store, "_convert", lambda g, o: (conversions.append(g), _fake_conversion(g, o))
    )
    folder = pull()
    assert folder == model_path() and (folder / COMPLETE_MARKER).is_file()
    assert json.loads((folder / "config.json").read_text())["from"].endswith(".gguf")
    assert pull() == folder
    assert len(conversions) == 1
    assert require_model() == folder


def test_an_interrupted_conversion_leaves_no_model(empty_cache, monkeypatch):
    def crash(gguf, out):
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(model_store, "_convert", crash)
    with pytest.raises(KeyboardInterrupt):
        pull()
    assert not model_path().exists()
    with pytest.raises(ModelNotFoundError, match="mercato models pull"):
        require_model()


def test_list_shows_pulled_state_and_extra_folders(empty_cache, monkeypatch):
    entries = {e.name: e for e in list_models()}
    assert entries["smollm2-135m-instruct"].pulled is False
    monkeypatch.setattr(model_store, "_convert", _fake_conversion)
    pull()
    mine = empty_cache / "models" / "my-model"
    mine.mkdir()
    (mine / "config.json").write_text("{}")
    entries = {e.name: e for e in list_models()}
    assert entries["smollm2-135m-instruct"].pulled is True
    assert entries["my-model"].summary == "local folder"


def test_unknown_model_name_lists_the_known_ones(empty_cache):
    with pytest.raises(ModelNotFoundError, match=r"available: \['smollm2-135m-instruct'\]"):
        pull("llama-70b")


def test_no_weights_are_tracked_by_git():
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=False
    ).stdout
    assert not [p for p in tracked.splitlines() if p.endswith((".safetensors", ".gguf", ".bin"))]
