"""`mercato envs` and `mercato policies` read at 80 columns: whole parameter names, the
Gymnasium views, and every registered policy with its env, options and description."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from sim.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from sim.cli.app import console

    monkeypatch.setattr(console, "_width", 80)


def test_envs_fit_80_columns_with_whole_parameters_and_views():
    import envs

    result = runner.invoke(app, ["envs"])
    assert result.exit_code == 0, result.output
    assert all(len(line.rstrip()) <= 80 for line in result.output.splitlines())
    words = set(re.findall(r"[\w./-]+=[^\s]+|\S+", result.output))
    for info in envs.list_envs():
        if info.params is not None:
            for row in info.params.table():
                assert any(w.startswith(f"{row.name}=") for w in words), row.name
        for view in info.views:
            assert f"mercato/{view.name}" in words
    assert "discount_alice=0.9" in words and "mercato/Bargaining-Bob-v0" in words


def test_policies_lists_every_policy_with_env_options_and_summary():
    from agents.registry import list_policies

    result = runner.invoke(app, ["policies"])
    assert result.exit_code == 0, result.output
    assert all(len(line.rstrip()) <= 80 for line in result.output.splitlines())
    text = " ".join(result.output.split())
    for info in list_policies():
        assert info.name in text
    assert "mercato/Bargaining-v0 bargaining/equilibrium" in text
    assert "(options: anchor, floor, rounds)" in text
    only = runner.invoke(app, ["policies", "--env", "mercato/Persuasion-v0"])
    assert "persuasion/bayesian" in only.output and "bargaining/" not in only.output
    bad = runner.invoke(app, ["policies", "--env", "mercato/Nope-v0"])
    assert bad.exit_code == 2 and bad.output.startswith("error:")
