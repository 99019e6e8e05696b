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
