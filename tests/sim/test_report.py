"""Reports: per-cell means and 95% intervals, the CSV and plots, and the `report` command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.engine.experiment import load_experiment
from sim.engine.records import StepColumns
from sim.report.cells import build_report, mean_interval, t_quantile, write_report
from sim.store.runs import open_run
from tests.sim.ultimatum_runs import episode_record, experiment_data, register_fixtures, step_rows

runner = CliRunner()
OFFERS = {
    "c000": [1.0, 2.0, 3.0, 4.0],
    "c001": [2.0, 2.0, 2.0, 2.0],
    "c002": [5.0, None, 7.0, None],
}
T3 = 3.182446305284263  # Student's t, 0.975 quantile, 3 degrees of freedom


@pytest.fixture(autouse=True, scope="module")
def _fixtures() -> None:
    register_fixtures()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """Three cells of four episodes: two grid cells and one with another proposer."""
    extra = [{"max_pie": 50, "roster": {"proposer_0": "human"}}]
    experiment = load_experiment(experiment_data(episodes=4, shard_size=4, cells=extra))
    run = open_run(tmp_path / "run", experiment)
    for shard in experiment.shards():
        records, steps = [], StepColumns()
        for spec in shard.episodes:
            offer = OFFERS[spec.cell_id][spec.episode_index]
            record = episode_record(spec, run.run_id, offer=offer, accepted=spec.episode_index > 0)
            if spec.cell_id == "c002":
                record.roster = {"proposer_0": "human", "responder_0": "llm:smol"}
            else:  # c001's four episodes are one episode repeated
                record.trace = "same" if spec.cell_id == "c001" else f"t{spec.episode_index}"
            records.append(record)
            steps.extend(step_rows(spec))
        run.write_shard(shard.shard_id, records, steps)
    return run.path


def test_mean_and_interval_per_cell(run_dir):
    report = build_report(run_dir)
    offer = report[report["metric"] == "offer"].set_index("cell_id")
    assert list(offer.index) == ["c000", "c001", "c002"]
    first = offer.loc["c000"]
    half = T3 * np.std([1, 2, 3, 4], ddof=1) / 2
    assert first["n"] == 4 and first["mean"] == pytest.approx(2.5)
    assert first["ci_low"] == pytest.approx(2.5 - half) and first["ci_high"] == pytest.approx(
        2.5 + half
    )
    assert offer.loc["c001", "sd"] == 0.0 and math.isnan(offer.loc["c001", "ci_low"])  # copies
    third = offer.loc["c002"]  # NaNs dropped: n = 2
    assert third["n"] == 2 and third["mean"] == pytest.approx(6.0)
    assert third["ci_high"] - third["mean"] == pytest.approx(12.706204736)  # t(1) * sd / sqrt(n)
    accepted = report[report["metric"] == "accepted"].set_index("cell_id")
    assert accepted.loc["c000", "mean"] == pytest.approx(0.75)
    assert set(report["metric"]) == {"offer", "accepted", "return_proposer_0", "return_responder_0"}


def test_cells_of_copied_episodes_are_flagged_and_get_no_interval(run_dir):
    report = build_report(run_dir).drop_duplicates("cell_id").set_index("cell_id")
    assert list(report["distinct"].fillna(-1)) == [4, 1, -1]  # c002 has no traces
    assert list(report["copies"]) == [False, True, False]
    result = runner.invoke(app, ["report", str(run_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "copies of one episode" in result.output
    assert "COPIES" in result.output and "(c001)" in result.output


def test_cells_are_labelled_by_what_varies(run_dir):
    report = build_report(run_dir)
    labels = report.drop_duplicates("cell_id").set_index("cell_id")["label"]
    assert labels["c000"] == "max_pie=20, proposer_0=random"
    assert labels["c001"] == "max_pie=50, proposer_0=random"
    assert labels["c002"] == "max_pie=50, proposer_0=human"
    keys = report.drop_duplicates("cell_id").set_index("cell_id")["key"]
    assert keys["c000"] == "max_pie=20 proposer=random"
    assert keys["c002"] == "max_pie=50 proposer=human"
    assert "param_max_pie" in report.columns and "param_min_pie" not in report.columns


def test_interval_of_one_value_is_undefined_and_of_none_is_empty():
    one = mean_interval(np.array([3.0]))
    assert one["n"] == 1 and one["mean"] == 3.0 and math.isnan(one["ci_low"])
    none = mean_interval(np.array([np.nan]))
    assert none["n"] == 0 and math.isnan(none["mean"])


def test_t_quantile_is_students_t():
    assert t_quantile(3) == pytest.approx(T3)
    assert t_quantile(10_000) == pytest.approx(1.96, abs=1e-3)


def test_write_report_writes_csv_and_one_faceted_figure(run_dir):
    # contract changed by issue 18: one faceted figure; per-outcome PNGs only on request
    written = write_report(run_dir)
    assert written[0] == run_dir / "report.csv"
    table = pd.read_csv(written[0])
    assert len(table) == 12 and {"cell_id", "label", "key", "metric", "n", "mean"} <= set(
        table.columns
    )
    assert [p.relative_to(run_dir).as_posix() for p in written[1:]] == ["plots/report.png"]
    written = write_report(run_dir, per_metric=True)
    pngs = {p.name for p in written[2:]}
    assert pngs == {"offer.png", "accepted.png", "return_proposer_0.png", "return_responder_0.png"}
    for path in written[1:]:
        assert path.parent == run_dir / "plots"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_report_command_prints_the_table_and_writes_files(run_dir):
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "ultimatum-test" in result.output and "offer" in result.output
    assert "max_pie=20" in result.output
    assert (run_dir / "report.csv").exists() and (run_dir / "plots" / "report.png").exists()


def test_report_of_a_run_without_episodes(tmp_path):
    run = open_run(tmp_path / "run", load_experiment(experiment_data()))
    assert build_report(run.path).empty
    result = runner.invoke(app, ["report", str(run.path)])
    assert result.exit_code == 0, result.output
    assert "no finished episodes yet" in result.output
    assert (run.path / "report.csv").exists()


def test_report_of_a_missing_run_is_one_error_line(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "not a run directory" in lines[0]


def test_envs_command_shows_parameters_with_defaults():
    result = runner.invoke(app, ["envs"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "mercato/TestUltimatum-v0" in result.output
    assert "max_pie=100" in result.output and "render_mode=None" in result.output
