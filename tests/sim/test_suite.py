"""Suites of experiments: the shipped GLEE grid and games smoke suite, validation, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.engine.experiment import ExperimentError
from sim.engine.suite import load_suite, run_suite
from sim.store.runs import load_episodes

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def test_the_glee_suite_is_the_papers_grid():
    sizes = {e.env: len(e.cells()) for e in load_suite(EXPERIMENTS / "glee.yaml")}
    assert sizes == {
        "mercato/Bargaining-v0": 384,
        "mercato/Negotiation-v0": 576,
        "mercato/Persuasion-v0": 360,
    }
    assert sum(sizes.values()) == 1320


@pytest.fixture(scope="module")
def smoke_suite(tmp_path_factory) -> tuple[Path, list]:
    """The games smoke suite played once for the module: (its folder, its runs)."""
    out = tmp_path_factory.mktemp("smoke")
    return out, run_suite(EXPERIMENTS / "games-smoke.yaml", out=out, workers=0)


def test_the_games_smoke_suite_plays_and_matches_theory(smoke_suite):
    _, runs = smoke_suite
    assert [r.name for r in runs] == ["smoke-bargaining", "smoke-negotiation", "smoke-persuasion"]
    bargaining, negotiation, persuasion = (load_episodes(r) for r in runs)
    equilibrium = bargaining[bargaining["roster"].str.count("equilibrium") == 2]
    assert (equilibrium["metric_round"] == 1).all()
    assert (equilibrium["metric_regret_alice_share"] < 1e-6).all()  # shares travel as float32
    played = negotiation[negotiation["roster"].str.count("equilibrium") == 2]
    surplus = played["param_buyer_value_factor"] > played["param_seller_value_factor"]
    assert (played["metric_trade"] == surplus.astype(float)).all()
    assert (played["metric_efficiency"] == 1).all()
    committed = persuasion[persuasion["roster"].str.contains("commitment")]
    assert (committed["metric_efficiency"].dropna() == 1).all()


def test_an_invalid_member_stops_the_suite_before_anything_runs(tmp_path):
    (tmp_path / "good.yaml").write_text(
        "env: mercato/Bargaining-v0\nroster: {alice: random, bob: random}\nepisodes: 1\n"
    )
    (tmp_path / "bad.yaml").write_text("env: mercato/Bargaining-v0\nroster: {}\nepisodes: 1\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text("suite: [good.yaml, bad.yaml]\n")
    with pytest.raises(ExperimentError, match=r"bad\.yaml"):
        run_suite(suite, out=tmp_path / "out", workers=0)
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(
        app, ["run", str(suite), "--workers", "0", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and result.output.startswith("error:")


def test_report_on_a_suite_folder_reports_every_member(smoke_suite):
    folder, _ = smoke_suite
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.count("cell(s) with results") == 3
    assert all(
        (folder / name / "report.csv").is_file()
        for name in ("smoke-bargaining", "smoke-negotiation", "smoke-persuasion")
    )
