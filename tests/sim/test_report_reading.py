"""`mercato report` for people: cells named by what differs, 80 columns read whole, options to
choose outcomes, cells, layout and format, one faceted figure, and the trial's study form."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's console at 80 columns (tests/conftest.py fixes it at 200 when it is built)."""
    from sim.cli.app import console

    monkeypatch.setattr(console, "_width", 80)


@pytest.fixture(scope="module")
def bargaining_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart's shape, small: a patience grid and a heuristic Bob."""
    from sim.engine.batch import run

    experiment = {
        "name": "patience",
        "env": "mercato/Bargaining-v0",
        "params": {"money": 10000, "horizon": 99},
        "grid": {"discount_alice": [0.8, 0.95], "discount_bob": [0.8, 0.95]},
        "roster": {"alice": "bargaining/equilibrium", "bob": "bargaining/equilibrium"},
        "cells": [
            {"discount_alice": 0.9, "discount_bob": 0.9, "roster": {"bob": "bargaining/even-split"}}
        ],
        "episodes": 2,
        "seed": 0,
    }
    return Path(run(experiment, workers=0, out=tmp_path_factory.mktemp("b") / "run"))


@pytest.fixture(scope="module")
def trial_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The RCT preset, 6 participants per arm."""
    import yaml

    from sim.engine.batch import run

    data = yaml.safe_load(Path("experiments/trials/rct.yaml").read_text())
    data |= {"episodes": 6, "shard_size": 6}
    return Path(run(data, workers=0, out=tmp_path_factory.mktemp("t") / "run"))


def report(run_dir: Path, *args: str) -> str:
    result = runner.invoke(app, ["report", str(run_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


def assert_reads_whole(text: str, width: int = 80) -> None:
    """Nothing cut or squeezed: no ellipsis, no empty column, no line past ``width``."""
    assert "…" not in text
    assert "┃┃" not in text and "││" not in text
    too_long = [line for line in text.splitlines() if len(line.rstrip()) > width]
    assert not too_long, too_long


def test_each_cell_is_named_by_what_differs_and_reads_at_80_columns(bargaining_run):
    text = report(bargaining_run)
    assert_reads_whole(text)
    lines = text.splitlines()
    expected = {
        "c000": "dA=0.8 dB=0.8 bob=equilibrium",
        "c001": "dA=0.8 dB=0.95 bob=equilibrium",
        "c003": "dA=0.95 dB=0.95 bob=equilibrium",
        "c004": "dA=0.9 dB=0.9 bob=even-split",
    }
    for cell, key in expected.items():
        assert any(line.split()[:1] == [cell] and key in line for line in lines), (cell, text)
    assert "dA = discount_alice" in text and "dB = discount_bob" in text
    assert len(lines) < 60  # was 5 cells x 11 outcomes, one row each, plus wrapped labels


def test_the_trial_report_and_its_study_form_read_whole_at_80_columns(trial_run):
    text = report(trial_run)
    assert_reads_whole(text)
    assert "aT=SEMA domain=emotional" in text and "aT = assistant_type" in text
    study = [line for line in text.splitlines() if "→" in line]
    assert len(study) == 12  # 6 arms x (HOD, hidden preferred), every one whole
    for line in study:
        assert ("financial" in line or "emotional" in line) and line.count("±") == 2


def test_metrics_and_cells_choose_what_is_shown_and_drawn(bargaining_run):
    text = report(bargaining_run, "--metrics", "deal,spe_*", "--cells", "c000,c003")
    assert "spe_alice_share" in text and "deal" in text and "fairness" not in text
    assert "c003" in text and "c001" not in text and "c004" not in text
    assert len(pd.read_csv(bargaining_run / "report.csv")) == 5 * 11  # the CSV keeps all


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--metrics", "nope"], "--metrics: no 'nope' in this run; allowed: alice_share"),
        (["--cells", "c000,c9"], "--cells: no 'c9' in this run; allowed: c000, c001"),
        (["--metrics", ","], "--metrics: give one or more names"),
        (["--format", "xml"], "--format: 'xml' is not one of text, csv, markdown, json"),
    ],
)
def test_bad_option_values_are_one_error_line(bargaining_run, args, expected):
    result = runner.invoke(app, ["report", str(bargaining_run), *args])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: " + expected), result.output


def test_formats_print_data_alone_on_stdout(bargaining_run):
    result = runner.invoke(app, ["report", str(bargaining_run), "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert {"cell_id", "key", "label", "metric", "mean", "ci_low"} <= set(table.columns)
    assert len(table) == 55
    result = runner.invoke(app, ["report", str(bargaining_run), "--format", "json"])
    data = json.loads(result.stdout)
    assert data["legend"] == {"dA": "discount_alice", "dB": "discount_bob"}
    assert len(data["rows"]) == 55
    result = runner.invoke(app, ["report", str(bargaining_run), "--format", "markdown"])
    lines = result.stdout.splitlines()
    assert lines[0] == "| outcome | c000 | c001 | c002 | c003 | c004 |"
    assert "| c004 | dA=0.9 dB=0.9 bob=even-split |" in result.stdout


def test_wide_is_one_table_with_full_intervals(trial_run):
    narrow = report(trial_run, "--metrics", "hod_post")
    wide = report(trial_run, "--metrics", "hod_post", "--wide")
    assert "(1/2)" in narrow and "(1/" not in wide
    row = next(line for line in wide.splitlines() if line.strip().startswith("hod_post"))
    assert row.count("[") == 6 and row.count(",") == 6


def test_one_faceted_figure_and_per_metric_files_on_request(bargaining_run, tmp_path):
    report(bargaining_run, "--into", str(tmp_path / "a"))
    assert [p.name for p in (tmp_path / "a" / "plots").iterdir()] == ["report.png"]
    report(bargaining_run, "--into", str(tmp_path / "b"), "--per-metric")
    names = {p.name for p in (tmp_path / "b" / "plots").iterdir()}
    metrics = set(pd.read_csv(tmp_path / "b" / "report.csv")["metric"])
    assert len(metrics) == 11 and names == {"report.png"} | {f"{m}.png" for m in metrics}
