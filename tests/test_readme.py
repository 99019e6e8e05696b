"""The README's code snippets run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
RUNNABLE = [s for s in SNIPPETS if s.startswith(("import pettingzoo", "import gymnasium"))]


def test_the_rl_snippets_are_found():
    assert len(RUNNABLE) >= 2


@pytest.mark.parametrize("snippet", RUNNABLE, ids=lambda s: s.splitlines()[0])
def test_readme_snippet_runs(snippet):
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)
    vec = namespace.get("vec")
    if vec is not None:
        vec.close()
