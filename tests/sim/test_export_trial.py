"""Hindsight-ranked exports of the manipulation trial (RLHS): pairs ranked by what the
participant learned after choosing, not by how satisfied it said it was at the time."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from sim.export import dpo_pairs, export_run, kto_rows, load_run, sft_rows
from sim.store.runs import load
from tests.sim.export_runs import play, trial


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return play(trial(), tmp_path_factory.mktemp("runs") / "trial")


def reply_outcomes(run: Path, prompt: list[dict], metric: str) -> dict[str, list[float]]:
    """Reply -> the episode metric of every episode where the assistant gave it at ``prompt``."""
    episodes, steps = load(run)
    values = dict(zip(episodes["episode_id"], episodes[metric], strict=True))
    answered = steps[steps["parse_status"].isin(["parsed", "reasked"])]
    out: dict[str, list[float]] = {}
    for _, step in answered.iterrows():
        if json.loads(step["prompt"]) == prompt:
            reply = json.loads(step["reply"])[-1]
            out.setdefault(reply, []).append(values[step["episode_id"]])
    return out


def test_trial_pairs_are_ranked_by_hindsight_satisfaction_by_default(run):
    rows = dpo_pairs(run)
    assert rows
    for row in rows:
        assert (row["source"], row["rank_by"], row["role"]) == (
            "hindsight",
            "hindsight",
            "assistant",
        )
        assert row["chosen_outcome"] > row["rejected_outcome"]
        seen = reply_outcomes(run, row["prompt"], "metric_satisfaction_hindsight")
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        assert row["chosen_outcome"] == pytest.approx(statistics.fmean(seen[chosen]))
        assert row["rejected_outcome"] == pytest.approx(statistics.fmean(seen[rejected]))
        means = [statistics.fmean(v) for v in seen.values()]
        assert (row["chosen_outcome"], row["rejected_outcome"]) == (max(means), min(means))


def test_immediate_satisfaction_ranks_differently_and_is_not_hindsight(run):
    hindsight = dpo_pairs(run)
    immediate = dpo_pairs(run, rank_by="immediate")
    assert immediate and {row["source"] for row in immediate} == {"same-state"}
    for row in immediate:
        seen = reply_outcomes(run, row["prompt"], "metric_satisfaction_immediate")
        assert row["chosen_outcome"] == pytest.approx(
            statistics.fmean(seen[row["chosen"][0]["content"]])
        )

    def key(row: dict) -> tuple:
        return json.dumps(row["prompt"]), row["chosen"][0]["content"], row["rejected"][0]["content"]

    assert {key(r) for r in hindsight} != {key(r) for r in immediate}
    true_utility = dpo_pairs(run, rank_by="true_utility")
    assert {row["source"] for row in true_utility} == {"hindsight"}


def test_each_decision_gets_the_outcome_of_its_own_task(tmp_path):
    params = {**trial()["params"], "tasks": 2}
    del params["scenario"]
    two = play({**trial(), "name": "trial-two", "params": params, "episodes": 3}, tmp_path / "t")
    data = load_run(two)
    _, steps = load(two)
    finals = steps[steps["action"].isna() & (steps["agent"] == "assistant_0")]
    tasks = {
        e: json.loads(i)["tasks"] for e, i in zip(finals["episode_id"], finals["info"], strict=True)
    }
    seen = set()
    for d in data.decisions:
        task = json.loads(d.observation)["task"]
        measures = tasks[d.episode_id][task]["measures"]
        assert d.outcomes["hindsight"] == measures["satisfaction_hindsight"]
        assert d.outcomes["immediate"] == measures["satisfaction_immediate"]
        assert d.outcomes["true_utility"] == measures["true_utility"]
        seen.add(task)
    assert seen == {0, 1}


def test_kto_and_the_card_use_the_hindsight_ranking(run, tmp_path):
    rows = kto_rows(run)
    assert {row["rank_by"] for row in rows} == {"hindsight"}
    assert {True, False} == {row["label"] for row in rows}
    export_run(run, "dpo", tmp_path / "dpo")
    card = (tmp_path / "dpo" / "README.md").read_text(encoding="utf-8")
    assert "satisfaction_hindsight" in card and "RLHS hindsight" in card
    assert "name: trial-export" in card


def test_scripted_trial_players_are_written_as_their_replies(run):
    rows = sft_rows(run, include_scripted=True, roles=["user"])
    assert rows and {row["source"] for row in rows} == {"scripted"}
    replies = [row["completion"][0]["content"] for row in rows]
    assert any(reply.startswith("RATINGS: ") for reply in replies)
    assert any(reply.startswith("SAY: ") for reply in replies)
    assert all("Options:" in row["prompt"][-1]["content"] for row in rows)
