"""Reading GLEE's game folders without the engine: values, CSV rows, one game, skips.

The whole import (run directory, cells, report) is tested in tests/sim/test_glee.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from envs.core.imported import ImportedGame, SkippedGame
from envs.games.glee_format import GameError, parse_number, read_game, read_games
from envs.games.glee_format_rows import read_rows

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "glee"
DEAL_R3, TRUNCATED = "1A2B3C4D5E6F7081", "3C4D5E6F70819203"

HEADER = "a,b,c\n"
CSV_CASES = {
    "plain": HEADER + "1,2,3\n4,5,6\n",
    "short row": HEADER + "1,2\n",
    "cut short": HEADER + "1,2,3\n4,5",
    "index column": HEADER + "0,1,2,3\n4,5,6\n",
    "two index columns": HEADER + "0,0,1,2,3\n",
    "blank lines": HEADER + "\n1,2,3\n\n\n4,5,6\n",
    "whitespace lines": HEADER + "   \n1,2,3\n\t\n4,5,6\n",
    "quoted whitespace": HEADER + '"  "\n1,2,3\n',
    "crlf": "a,b,c\r\n1,2,3\r\n",
    "quoted newline": HEADER + '1,"x\ny",3\n',
    "doubled quotes": HEADER + '1,"he said ""hi""",3\n',
    "text after a closing quote": HEADER + '1,"x"y,3\n',
    "quote inside a field": HEADER + '1,x"y,3\n',
    "byte order mark": "\ufeffa,b,c\n1,2,3\n",
    "padded header": " a , b,c\n1,2,3\n",
    "repeated and empty names": "a,a,\n1,2,3\n",
    "header only": HEADER,
}


def pandas_rows(path: Path) -> list[dict[str, str]]:
    """How the importer read game.csv before it dropped pandas."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.to_dict("records")


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_csv_rows_are_read_as_pandas_read_them(tmp_path, name):
    path = tmp_path / "game.csv"
    path.write_text(CSV_CASES[name], encoding="utf-8", newline="")
    assert read_rows(path) == pandas_rows(path)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("", "truncated"),
        ("\n \n", "truncated"),
        (HEADER + '1,"x,3\n', "unreadable"),
        (HEADER + "1,2,3\n4,5,6,7\n", "unreadable"),
    ],
)
def test_csv_that_pandas_refuses_is_refused(tmp_path, content, kind):
    path = tmp_path / "game.csv"
    path.write_text(content, encoding="utf-8", newline="")
    with pytest.raises(GameError) as caught:
        read_rows(path)
    assert caught.value.kind == kind


def test_parse_number_is_as_tolerant_as_glees_parser():
    assert parse_number("$1,234.5") == 1234.5
    assert parse_number(" 10,000 ") == 10_000.0
    assert parse_number("None") is None and parse_number("") is None
    assert parse_number(7) == 7.0
    with pytest.raises(GameError):
        parse_number("lots")


def test_read_game_reports_the_family_and_metrics():
    played = read_game(FIXTURES / "bargaining/1/A/2" / DEAL_R3)
    assert played.env_id == "mercato/Bargaining-v0" and played.game_id == DEAL_R3
    assert played.metrics["round"] == 3.0
    assert played.roster == {"alice_0": "litellm:gpt-4o", "bob_0": "litellm:gemini-1.5-flash"}
    assert set(played.players["alice_0"]) == {"player_type", "model_name", "public_name"}
    assert all(step.info["glee_game_id"] == DEAL_R3 for step in played.steps)
    assert math.isclose(played.returns["alice_0"], 10_000 * 0.9**2 * 0.6)


def test_read_games_yields_every_folder_imported_or_skipped():
    results = list(read_games(FIXTURES))
    assert len(results) == 9
    skipped = [r for r in results if isinstance(r, SkippedGame)]
    assert [(s.location.name, s.kind) for s in skipped] == [(TRUNCATED, "truncated")]
    assert all(isinstance(r, ImportedGame) for r in results if r not in skipped)


def test_extra_game_args_keep_configurations_apart(tmp_path):
    folder = tmp_path / "game"
    source = FIXTURES / "bargaining/1/A/2" / DEAL_R3
    folder.mkdir()
    config = json.loads((source / "config.json").read_text())
    config["game_args"] |= {"note": "x", "grid": [1, 2.5, {"é": None}]}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "game.csv").write_text((source / "game.csv").read_text())
    params = read_game(folder).params
    assert params["glee_note"] == "x"
    assert params["glee_grid"] == '[1,2.5,{"é":null}]'


def test_the_reader_needs_no_engine():
    code = (
        "import sys, envs.games.glee_format\n"
        "print(sorted(m for m in sys.modules if m == 'sim' or m.startswith('sim.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
