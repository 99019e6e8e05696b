"""DPO exports hold each preference once: pairs with the same prompt, chosen and rejected reply
(alike episodes reach the same states) are kept at their first occurrence."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sim.export import counterfactual_pairs, dpo_pairs
from tests.sim.export_runs import bargaining, play

GREEDY = {"Make your offer": "OFFER alice=7000 bob=3000", "*": "ACCEPT"}
MODEST = {"Make your offer": "OFFER alice=1000 bob=9000", "*": "ACCEPT"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three alike episodes per cell (deterministic fake players): every state recurs."""
    experiment = bargaining(
        name="bargain-dupes",
        models={
            "greedy": {"backend": "fake", "responses": GREEDY},
            "modest": {"backend": "fake", "responses": MODEST},
        },
        roster={"alice": {"policy": "llm", "model": "greedy"}, "bob": "bargaining/equilibrium"},
        cells=[{"roster": {"alice": {"policy": "llm", "model": "modest"}}}],
        episodes=3,
    )
    return play(experiment, tmp_path_factory.mktemp("runs") / "dupes")


def _key(row: dict) -> bytes:
    return orjson.dumps([row["prompt"], row["chosen"], row["rejected"]])


def test_counterfactual_pairs_are_unique(run):
    rows = counterfactual_pairs(run, pairs="all")
    keys = [_key(r) for r in rows]
    assert rows and len(set(keys)) == len(keys)
    # every distinct preference found at any sampled state is still there
    opening = [r for r in rows if r["chosen"][0]["content"] == "OFFER alice=1000 bob=9000"]
    assert len(opening) == len({_key(r) for r in opening}) >= 1


def test_dpo_with_counterfactual_pairs_holds_each_preference_once(run):
    rows = dpo_pairs(run, counterfactual=True, pairs="all")
    keys = [_key(r) for r in rows]
    assert len(set(keys)) == len(keys)
    same = dpo_pairs(run, pairs="all")
    assert rows[: len(same)] == same  # the same-state pairs come first and are kept
