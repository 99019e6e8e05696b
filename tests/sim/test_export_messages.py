"""Export refusals name the Python argument for Python callers (and the CLI flag beside it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.export import ExportError, dpo_pairs, sft_rows
from tests.sim.export_runs import bargaining, play


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    scripted = {"alice": "bargaining/equilibrium", "bob": "bargaining/equilibrium"}
    chatty = {"chatty": {"backend": "fake", "responses": {"*": "I like turtles"}}}
    chooser = {
        "alice": {"policy": "llm", "model": "chatty", "options": {"max_reasks": 0}},
        "bob": "bargaining/equilibrium",
    }
    return {
        "scripted": play(bargaining(name="msg-eq", roster=scripted, episodes=2), root / "eq"),
        "chooser": play(
            bargaining(name="msg-choice", models=chatty, roster=chooser, episodes=1),
            root / "choice",
        ),
    }


def _message(function, *args, **kwargs) -> str:
    with pytest.raises(ExportError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


def test_dpo_without_pairs_names_the_python_argument(runs):
    message = _message(dpo_pairs, runs["scripted"], include_scripted=True)
    assert "counterfactual=True (--counterfactual)" in message
    assert "pass --counterfactual" not in message


def test_dpo_without_reply_text_names_the_python_argument(runs):
    message = _message(dpo_pairs, runs["chooser"])
    assert "pass counterfactual=True (--counterfactual) to branch" in message
    assert "pass --counterfactual" not in message


def test_no_llm_decisions_names_the_python_arguments(runs):
    message = _message(sft_rows, runs["scripted"])
    assert "include_scripted=True (--scripted)" in message
    assert "agent=NAME (--format minari --agent NAME)" in message
