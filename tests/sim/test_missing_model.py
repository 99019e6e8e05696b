"""A local model that is not there is refused before anything is written, in one line, whether the
run plays in this process or on Ray (where the model loads in a serving actor)."""

from __future__ import annotations

import pytest

import sim
from sim.llm.errors import LLMError


def _experiment() -> dict:
    return {
        "name": "missing-model",
        "env": "mercato/Bargaining-v0",
        "models": {"big": "local:/nonexistent"},
        "roster": {"alice": "bargaining/equilibrium", "bob": {"policy": "llm", "model": "big"}},
        "episodes": 1,
    }


@pytest.mark.parametrize("workers", [0, 1])
def test_a_missing_local_model_is_refused_before_anything_is_written(workers, request, tmp_path):
    if workers:
        request.getfixturevalue("ray_local")
    out = tmp_path / "runs" / "missing-model"
    with pytest.raises(LLMError) as caught:
        sim.run(_experiment(), workers=workers, out=out)
    message = str(caught.value)
    assert "local model '/nonexistent'" in message and "\n" not in message
    assert "big" in message or workers == 0
    assert not (tmp_path / "runs").exists()
