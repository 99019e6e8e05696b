"""Importing nothing is an error, and nothing is written: an empty folder, or one whose every game
is skipped, gives no run directory."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.store.importer import import_games

runner = CliRunner()


def test_import_glee_on_an_empty_folder_fails_and_creates_nothing(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    out = tmp_path / "run"
    result = runner.invoke(app, ["import-glee", str(source), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"error: {source}: no glee games found there; nothing imported"
    ]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_a_folder_whose_every_game_is_skipped_says_why_and_creates_nothing(tmp_path):
    source = tmp_path / "source"
    (source / "g1").mkdir(parents=True)
    (source / "g1" / "config.json").write_text("{not json")
    (source / "g1" / "game.csv").write_text("player,round\n")
    with pytest.raises(ValueError) as caught:
        import_games("glee", source, tmp_path / "run")
    message = str(caught.value)
    assert message.startswith(f"{source}: none of the 1 glee game(s) found could be imported")
    assert "unreadable" in message and "nothing imported" in message
    assert not (tmp_path / "run").exists()
