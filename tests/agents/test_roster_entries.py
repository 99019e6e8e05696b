"""`agents.roster` reads a roster entry as the experiment's pydantic `RosterEntry` does, without
pydantic (so the core install's views read ``opponents=`` by the same rules)."""

from __future__ import annotations

import pytest

from agents.roster import read_entry
from sim.engine.cells import RosterEntry

VALID = [
    "random",
    {"policy": "llm", "model": "fake"},
    {"policy": "llm", "model": "fake", "role_prompt": "Sell.", "options": {"max_reasks": 1}},
]


@pytest.mark.parametrize("value", VALID)
def test_valid_entries_read_as_the_experiment_reads_them(value) -> None:
    ours, theirs = read_entry(value, "x"), RosterEntry.model_validate(value)
    fields = ("policy", "model", "role_prompt", "options")
    assert [getattr(ours, f) for f in fields] == [getattr(theirs, f) for f in fields]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"model": "fake"}, r"^x\.policy: required field is missing$"),
        ({"policy": "llm", "modle": "f"}, r"^x\.modle: unknown field; allowed: \['model', "),
        ({"policy": "llm", "model": 3}, r"^x\.model: 3 is invalid: expected a string$"),
        ({"policy": "llm", "options": [1]}, r"^x\.options: \[1\] is invalid: expected a mapping"),
        (5, r"^x: 5 is invalid: expected a policy name or a mapping$"),
    ],
)
def test_malformed_entries_fail_in_one_line_naming_the_field(value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_entry(value, "x")
