"""The newcomer's path "add an environment family" (docs/architecture.md), followed end to end:
the template family in examples/nim_family, copied into a tmp folder, registers through an
experiment's ``imports:`` and runs through ``mercato run`` and ``mercato report``; its view,
parameters and oracle work like a built-in family's. Everything runs in subprocesses, so the
toy family never enters this process's registries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "examples" / "nim_family" / "nim"
MERCATO = Path(sys.executable).with_name("mercato")

EXPERIMENT = """\
name: nim-oracle
imports: [nim]
env: mercato/Nim-v0
params: {max_take: 3}
grid:
  tokens: [8, 9]
roster:
  first: nim/optimal
  second: nim/optimal
episodes: 3
seed: 0
"""


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the repo holding a copy of the template family."""
    root = tmp_path_factory.mktemp("family")
    shutil.copytree(TEMPLATE, root / "nim")
    (root / "nim.yaml").write_text(EXPERIMENT)
    return root


def _run(family: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{family}{os.pathsep}{REPO}"}
    return subprocess.run(
        args, cwd=family, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_a_family_from_a_tmp_folder_runs_and_reports_through_the_cli(family: Path) -> None:
    run_dir = family / "runs" / "nim"
    done = _run(family, str(MERCATO), "run", "nim.yaml", "--out", str(run_dir), "--workers", "0")
    assert done.returncode == 0, done.stderr
    report = _run(family, str(MERCATO), "report", str(run_dir), "--into", str(family / "rep"))
    assert report.returncode == 0, report.stderr
    assert "c000" in report.stdout and "c001" in report.stdout
    check = textwrap.dedent(
        f"""
        from sim.store.runs import load
        episodes, steps = load({str(run_dir)!r})
        assert len(episodes) == 6, len(episodes)
        wins = episodes.groupby("param_tokens")["metric_first_wins"].mean().to_dict()
        # the oracle: with optimal play the first player wins unless tokens % 4 == 0
        assert wins == {{8: 0.0, 9: 1.0}}, wins
        should = episodes.groupby("param_tokens")["metric_first_should_win"].mean().to_dict()
        assert should == wins, should
        print("checked")
        """
    )
    loaded = _run(family, sys.executable, "-c", check)
    assert loaded.returncode == 0 and "checked" in loaded.stdout, loaded.stderr


def test_the_family_spec_gives_view_parameters_and_errors(family: Path) -> None:
    script = textwrap.dedent(
        """
        import gymnasium
        import nim  # registers the family
        import sim  # registers the views every spec declares
        from sim.rl.views import register_views
        from envs.core.registry import make_env, spec_of
        from pettingzoo.test import api_test
        from sim.engine.experiment import ExperimentError, load_experiment

        register_views()  # nim was imported after sim: register its view now
        spec = spec_of("mercato/Nim-v0")
        assert spec.params.defaults() == {"tokens": 21, "max_take": 3}
        api_test(make_env("mercato/Nim-v0", {"tokens": 7}), num_cycles=50)
        view = gymnasium.make("mercato/Nim-Second-v0", params={"tokens": 9})
        obs, info = view.reset(seed=0)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = view.step(0)
            total += reward
            done = terminated or truncated
        assert total == -1.0, total  # the optimal first player wins from 9 tokens
        try:
            roster = {"first": "nim/optimal", "second": "nim/optimal"}
            load_experiment({"imports": ["nim"], "env": "mercato/Nim-v0", "episodes": 1,
                             "params": {"tokens": 0}, "roster": roster}).cells
        except ExperimentError as error:
            print("error:", error)
        """
    )
    done = _run(family, sys.executable, "-c", script)
    assert done.returncode == 0, done.stderr
    assert "error: params.tokens" in done.stdout and "tokens must be an int in [1, 1000]" in (
        done.stdout
    ), done.stdout
