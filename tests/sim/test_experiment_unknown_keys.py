"""An experiment's misspelt top-level key is named, with the close match, before any field it
leaves missing."""

from __future__ import annotations

import pytest

from sim.engine.experiment import ExperimentError, load_experiment

ROSTER = {"alice": "bargaining/equilibrium", "bob": "bargaining/equilibrium"}


def _message(data: dict) -> str:
    with pytest.raises(ExperimentError) as caught:
        load_experiment(data)
    return str(caught.value)


def test_a_misspelt_key_is_named_with_its_close_match():
    message = _message({"env": "mercato/Bargaining-v0", "roster": ROSTER, "episode": 2})
    assert message.startswith("episode: unknown field; allowed: [")
    assert message.endswith("; did you mean 'episodes'?")
    assert "required field is missing" not in message


def test_an_unknown_key_without_close_match_lists_the_fields():
    message = _message({"env": "mercato/Bargaining-v0", "roster": ROSTER, "colour": 1})
    assert message.startswith("colour: unknown field; allowed: [")
    assert "did you mean" not in message and "'episodes'" in message


def test_a_key_close_to_an_alias_suggests_the_alias():
    data = {"env": "mercato/Bargaining-v0", "roster": ROSTER, "episodes": 1, "cell": []}
    message = _message(data)
    assert message.startswith("cell: unknown field") and message.endswith("did you mean 'cells'?")
