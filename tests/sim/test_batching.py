"""Full batches and real samples: lockstep across cells, scripted turns played at once, identical
requests sent once; LLM players sample by default, replayably, and copies are flagged."""

from __future__ import annotations

import pandas as pd
import pytest

import sim
from sim.bench.batching import BEFORE, CallLog, LoggingModel, measure
from sim.engine.batch import play_shard
from sim.engine.experiment import load_experiment
from sim.engine.rollout import BATCHING
from sim.engine.roster import ModelPool
from sim.llm import make_model
from sim.report.cells import build_report
from sim.store.runs import load, open_run

JSON_FAKE = {"backend": "fake", "structured": "json_schema"}
"""A fake model whose replies are schema-valid JSON: every decision parses."""


def bargaining(**changes):
    """An LLM Bob against a scripted Alice, three cells: uneven episode lengths."""
    data = {
        "name": "batching-test",
        "env": "mercato/Bargaining-v0",
        "params": {"money": 100, "horizon": 6, "discount_alice": 0.9},
        "grid": {"discount_bob": [0.8, 0.9, 0.95]},
        "models": {"llm": JSON_FAKE},
        "roster": {
            "alice": "bargaining/linear-concession",
            "bob": {"policy": "llm", "model": "llm"},
        },
        "episodes": 4,
        "shard_size": 12,
        "lockstep": 32,
    }
    data.update(changes)
    if not data["grid"]:
        data["params"] = {**data["params"], "discount_bob": 0.9}
    return load_experiment(data)


def play_logged(experiment, batching, folder):
    """Play every shard through a logging model; the call log and the run's tables."""
    log = CallLog()
    model = LoggingModel(make_model(JSON_FAKE), log)
    pool = ModelPool(experiment.models, build=lambda spec: model)
    run_dir = open_run(folder, experiment)
    for shard in experiment.shards():
        play_shard(experiment, shard, run_dir, pool, batching=batching, on_drained=log.mark_drained)
    episodes, steps = load(folder)
    by_id = (
        episodes.sort_values("episode_id").drop(columns=["wall_s", "run_id"]).reset_index(drop=True)
    )
    return log, by_id, steps


def test_cells_share_one_lockstep_and_results_do_not_depend_on_scheduling(tmp_path):
    experiment = bargaining()
    before, old_episodes, old_steps = play_logged(experiment, BEFORE, tmp_path / "before")
    after, new_episodes, new_steps = play_logged(experiment, BATCHING, tmp_path / "after")
    # every episode of the shard waits for its LLM decision in the same call
    assert max(before.batch_sizes()) == 4 and after.batch_sizes(kind="generate")[0] == 12
    assert len(after.calls) < len(before.calls)
    pd.testing.assert_frame_equal(old_episodes, new_episodes)
    key = ["episode_id", "step"]
    columns = ["agent", "observation", "action", "reward", "parse_status"]
    pd.testing.assert_frame_equal(
        old_steps.sort_values(key)[columns].reset_index(drop=True),
        new_steps.sort_values(key)[columns].reset_index(drop=True),
    )


def test_greedy_players_send_identical_requests_once(tmp_path):
    greedy = bargaining(grid={}, temperature=0.0)
    log, _, steps = play_logged(greedy, BATCHING, tmp_path / "greedy")
    # one cell of four copies: each decision is asked once for all four episodes
    assert set(log.batch_sizes(kind="generate")) == {1}
    decisions = steps[steps["parse_status"].notna()]
    assert (decisions.groupby("step")["llm_requests"].sum() == 1).all()


def test_a_parallel_market_fills_the_lockstep_across_cells():
    report = measure("market", model="fake", lockstep=8, episodes=2)
    assert report.after.mean_batch(while_full=True) >= 0.8 * 8
    assert report.before.mean_batch() < report.after.mean_batch()
    assert report.after.log.completion_tokens == report.before.log.completion_tokens


def test_llm_players_sample_by_default_and_replay_exactly(tmp_path):
    both = {role: {"policy": "llm", "model": "llm"} for role in ("alice", "bob")}
    sampled = sim.run(bargaining(grid={}, roster=both), workers=0, out=tmp_path / "sampled")
    again = sim.run(bargaining(grid={}, roster=both), workers=0, out=tmp_path / "again")
    greedy_run = bargaining(grid={}, roster=both, temperature=0.0)
    greedy = sim.run(greedy_run, workers=0, out=tmp_path / "greedy")
    traces = load(sampled)[0]["trace"]
    assert traces.nunique() == 4  # four episodes, four samples (Alice's first offer differs)
    assert list(load(again)[0]["trace"]) == list(traces)  # seeded per episode: a run replays
    assert load(greedy)[0]["trace"].nunique() == 1  # greedy: four copies of one episode
    flagged = build_report(greedy).drop_duplicates("cell_id")
    assert flagged["copies"].all() and flagged["ci_low"].isna().all()
    assert not build_report(sampled)["copies"].any()


def test_a_roster_temperature_beats_the_experiments(tmp_path):
    roster = {"alice": "bargaining/linear-concession"}
    roster["bob"] = {"policy": "llm", "model": "llm", "options": {"temperature": 0.0}}
    run = sim.run(bargaining(grid={}, roster=roster, temperature=1.0), workers=0, out=tmp_path)
    assert load(run)[0]["trace"].nunique() == 1


@pytest.mark.parametrize("bad", [-0.5, "hot"])
def test_a_bad_temperature_is_refused_naming_the_field(bad):
    with pytest.raises(Exception, match="temperature"):
        bargaining(temperature=bad)
