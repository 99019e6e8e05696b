"""The `mercato` command line: working commands, and one-line errors with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()


def test_bench_llm_reports_every_batch_size_and_the_ratio():
    result = runner.invoke(
        app, ["bench", "llm", "--model", "fake", "--batch-sizes", "1,4", "--max-tokens", "8"]
    )
    assert result.exit_code == 0, result.output
    assert "tokens/s" in result.output
    assert "batched/sequential ratio (batch 4 vs batch 1)" in result.output


def test_demo_runs_on_the_fake_model():
    result = runner.invoke(app, ["demo", "--model", "fake"])
    assert result.exit_code == 0, result.output
    assert "chat" in result.output and "choice" in result.output and "tokens/s" in result.output


def test_models_list_shows_the_bundled_model():
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert "smollm2-135m-instruct" in result.output


def test_envs_lists_registered_environments():
    result = runner.invoke(app, ["envs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for env_id in ("mercato/Bargaining-v0", "mercato/Negotiation-v0", "mercato/Persuasion-v0"):
        assert env_id in result.output
    assert "discount_alice=0.9" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bench", "llm", "--model", "fake", "--batch-sizes", "1,x"], "--batch-sizes"),
        (["bench", "llm", "--model", "fake", "--batch-sizes", "0"], "--batch-sizes"),
        (["bench", "llm", "--model", "gpt-9"], "valid forms"),
        (["demo", "--model", "openai:m"], "openai:MODEL@BASE_URL"),
        (["models", "pull", "no-such-model"], "available"),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(args, expected):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]


def test_missing_local_model_tells_how_to_pull_it(tmp_path):
    env = {"MERCATO_CACHE": str(tmp_path), "PATH": ""}
    result = runner.invoke(app, ["bench", "llm", "--model", "local"], env=env)
    assert result.exit_code == 2
    assert "mercato models pull" in result.output


def test_console_script_is_installed():
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "models" in done.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env: [unclosed", "invalid YAML at line"),
        (
            "env: mercato/Nope-v0\nroster: {}\nepisodes: 1\n",
            "env: 'mercato/Nope-v0' is not registered",
        ),
        (
            "env: mercato/Bargaining-v0\nroster: {alice: bargaining/equilibrium, bob: x}\n"
            "episodes: 1\n",
            "roster.bob.policy",
        ),
        (
            "env: mercato/Bargaining-v0\ngrid: {discount_alice: [0.5, 1.5]}\n"
            "roster: {alice: random, bob: random}\nepisodes: 1\n",
            "grid.discount_alice[1]",
        ),
    ],
)
def test_run_refuses_bad_experiments_and_writes_nothing(tmp_path, text, expected):
    spec = tmp_path / "exp.yaml"
    spec.write_text(text)
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(spec), "--workers", "0", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
    assert not out.exists()


def test_run_then_report_in_process(tmp_path):
    spec = tmp_path / "exp.yaml"
    spec.write_text(
        "env: mercato/Bargaining-v0\ngrid: {discount_bob: [0.8, 0.9]}\n"
        "roster: {alice: bargaining/equilibrium, bob: bargaining/equilibrium}\nepisodes: 3\n"
    )
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(spec), "--workers", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert (out / "report.csv").is_file() and list((out / "plots").glob("*.png"))
    assert "spe_alice_share" in report.output
