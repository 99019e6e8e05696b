"""The README's code snippets run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
STARTS = ("import pettingzoo", "import gymnasium", "import stable_baselines3", "from sim.rl")
RUNNABLE = [s for s in SNIPPETS if s.startswith(STARTS)]


def test_the_rl_snippets_are_found():
    assert len(RUNNABLE) >= 4
    assert any("ppo_config" in s for s in RUNNABLE) and any("sb3.PPO" in s for s in RUNNABLE)


@pytest.mark.parametrize("snippet", RUNNABLE, ids=lambda s: s.splitlines()[0])
def test_readme_snippet_runs(snippet, request, tmp_path, monkeypatch):
    if "ppo_config" in snippet:  # RLlib: use the session's Ray instance
        request.getfixturevalue("ray_local")
        # an Algorithm outside Tune makes its log folder with mkdtemp() in ~/ray_results
        monkeypatch.setattr("ray.tune.trainable.trainable.DEFAULT_STORAGE_PATH", str(tmp_path))
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)
    vec = namespace.get("vec")
    if vec is not None:
        vec.close()


def test_readme_minari_export_and_recover_environment_run(tmp_path, monkeypatch):
    """The README's Minari lines, from a folder holding a small quickstart run: the relative
    ``--out`` export, then the snippet that loads it and recovers its environment."""
    import shlex

    import yaml
    from typer.testing import CliRunner

    import sim
    from sim.cli import app

    text = README.read_text(encoding="utf-8")
    bash = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    (line,) = [s for block in bash for s in block.splitlines() if "--format minari" in s]
    (snippet,) = [s for s in SNIPPETS if "recover_environment()" in s]
    experiment = yaml.safe_load((README.parent / "experiments" / "quickstart.yaml").read_text())
    experiment["cells"] = []  # the scripted grid is enough (c000 is its first cell)
    experiment["episodes"] = 2
    monkeypatch.chdir(tmp_path)
    sim.run(experiment, workers=0, out="runs/quickstart")
    args = shlex.split(line.split("#")[0])
    assert args[0] == "mercato" and "data/minari" in args
    result = CliRunner().invoke(app, args[1:])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("MINARI_DATASETS_PATH", "")  # the snippet sets it; restored after
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)
    assert namespace["env"].spec.id == "mercato/Bargaining-Bob-v0"
    assert namespace["dataset"].total_episodes == 2
    namespace["env"].close()
