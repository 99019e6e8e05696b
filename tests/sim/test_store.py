"""Run directories: committed shard writes, one writer at a time, resume or refusal, secret-free
manifests, load()."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.engine.experiment import Experiment, load_experiment
from sim.engine.records import STEP_COLUMNS, StepColumns
from sim.store.lease import LeaseHeld, LeaseLost
from sim.store.runs import (
    STEP_SCHEMA,
    VERSIONED_PACKAGES,
    RunDir,
    load,
    load_episodes,
    open_run,
    read_manifest,
)
from tests.sim.ultimatum_runs import episode_record, experiment_data, register_fixtures, step_rows


@pytest.fixture(autouse=True, scope="module")
def _fixtures() -> None:
    register_fixtures()


@pytest.fixture
def experiment() -> Experiment:
    return load_experiment(experiment_data())


def write(run: RunDir, experiment: Experiment, shard_index: int) -> None:
    shard = experiment.shards()[shard_index]
    steps = StepColumns()
    for spec in shard.episodes:
        steps.extend(step_rows(spec))
    records = [episode_record(s, run.run_id, accepted=True, offer=4) for s in shard.episodes]
    run.write_shard(shard.shard_id, records, steps)


def test_open_run_writes_the_manifest(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    manifest = read_manifest(run.path).to_json()
    assert manifest["status"] == "running"
    assert manifest["fingerprint"] == experiment.fingerprint()
    assert manifest["run_id"] == run.run_id and run.run_id.startswith("ultimatum-test-")
    assert manifest["seed"] == 0
    assert manifest["experiment"] == experiment.resolved()
    assert [c["cell_id"] for c in manifest["cells"]] == ["c000", "c001"]
    assert manifest["plan"] == {"cells": 2, "episodes": 6, "shards": 3}
    assert set(manifest["versions"]) == set(VERSIONED_PACKAGES)
    assert manifest["versions"]["pyarrow"]
    assert "git_commit" in manifest and "created" in manifest
    assert manifest["layout"] == 2 and manifest["checksums"] == "sha256"
    assert (run.path / "lease.json").is_file()  # held until the writer closes the run
    assert run.done_shards() == set()
    run.close()
    assert not (run.path / "lease.json").exists()


def test_shards_round_trip_with_stable_columns_and_dtypes(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    for index in (2, 0):  # written out of order, loaded in order
        write(run, experiment, index)
    assert run.done_shards() == {"s00000", "s00002"}
    episodes, steps = load(run.path)
    assert list(episodes.columns) == [
        "run_id", "cell_id", "episode_id", "episode_index", "env_id", "seed", "roster",
        "param_min_pie", "param_max_pie", "param_max_cycles", "param_render_mode",
        "metric_accepted", "metric_offer", "return_proposer_0", "return_responder_0", "steps",
        "trace", "llm_calls", "llm_tokens", "errors", "wall_s", "llm_decisions", "llm_parsed",
        "llm_reasked", "llm_choice", "llm_default", "llm_requests", "llm_failed_requests",
        "llm_prompt_tokens", "llm_completion_tokens", "llm_cost", "llm_by_model",
    ]  # fmt: skip
    assert list(episodes["episode_id"]) == [
        "c000-e00000",
        "c000-e00001",
        "c001-e00001",
        "c001-e00002",
    ]
    specs = {s.episode_id: s for s in experiment.episode_specs()}
    assert list(episodes["seed"]) == [specs[e].seed for e in episodes["episode_id"]]
    assert json.loads(episodes["roster"][0]) == {"proposer_0": "random", "responder_0": "llm:smol"}
    assert list(episodes["param_max_pie"]) == [20, 20, 50, 50]
    assert episodes["param_render_mode"].isna().all()
    assert list(episodes["metric_accepted"]) == [1.0] * 4
    assert list(episodes["return_responder_0"]) == [4.0] * 4
    dtypes = episodes.dtypes
    assert dtypes["episode_index"] == "Int64" and dtypes["param_max_pie"] == "Int64"
    assert dtypes["metric_offer"] == "float64" and dtypes["wall_s"] == "float64"
    assert pd.api.types.is_string_dtype(dtypes["cell_id"])

    assert list(steps.columns) == list(STEP_COLUMNS)
    assert len(steps) == 16
    assert list(steps["step"][:4]) == [0, 1, 2, 3]
    assert steps["episode_id"].is_monotonic_increasing
    assert steps["retries"].dtype == "Int64" and list(steps["retries"].dropna()) == [2] * 4
    assert list(steps["fallback"].dropna()) == ["choice"] * 4
    assert steps["reward"].dtype == "float64" and steps["terminated"].dtype == "boolean"
    assert steps["retries"].isna().sum() == 12  # only the LLM turn has retries
    assert json.loads(steps["info"][2]) == {"pie": 20.0, "offer": 4, "accepted": True}


def test_step_schema_follows_the_record_columns():
    assert tuple(STEP_SCHEMA.names) == STEP_COLUMNS


def test_uncommitted_and_temporary_files_are_ignored_then_removed(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    write(run, experiment, 0)
    leftovers = [
        run.path / "episodes" / "s00001.0123456789ab.parquet",  # a worker died before its commit
        run.path / "steps" / "s00001.0123456789ab.parquet",
        run.path / "shards" / "s00001.json.77.deadbeef.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"half a file")
    assert run.done_shards() == {"s00000"}
    episodes, steps = load(run.path)
    assert set(episodes["cell_id"]) == {"c000"} and len(episodes) == 2 and len(steps) == 8
    run.close()
    open_run(tmp_path / "run", experiment).close()  # the next writer cleans up
    assert not any(path.exists() for path in leftovers)
    assert len(load(run.path)[0]) == 2


def test_a_shard_without_its_commit_record_is_not_done(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    write(run, experiment, 0)
    (run.path / "shards" / "s00000.json").unlink()  # as if the writer died before committing
    assert run.done_shards() == set()
    episodes, steps = load(run.path)
    assert episodes.empty and steps.empty


def test_writes_leave_no_tmp_files(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    write(run, experiment, 0)
    run.update_manifest(status="complete", episodes_done=2)
    assert not list(run.path.rglob("*.tmp"))
    manifest = read_manifest(run.path).to_json()
    assert manifest["status"] == "complete" and manifest["episodes_done"] == 2


def test_same_experiment_resumes(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    write(run, experiment, 0)
    run.update_manifest(status="interrupted")
    run.close()
    again = open_run(tmp_path / "run", load_experiment(experiment_data()))
    assert again.run_id == run.run_id
    assert again.done_shards() == {"s00000"}
    assert read_manifest(again.path).to_json()["status"] == "running"


def test_different_experiment_is_refused_unless_fresh(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    write(run, experiment, 0)
    run.close()
    other = load_experiment(experiment_data(episodes=4))
    with pytest.raises(ValueError, match=r"different experiment.*--fresh.*--out"):
        open_run(tmp_path / "run", other)
    assert run.done_shards() == {"s00000"}
    fresh = open_run(tmp_path / "run", other, fresh=True)
    assert fresh.run_id != run.run_id
    assert fresh.done_shards() == set()
    assert read_manifest(fresh.path).to_json()["fingerprint"] == other.fingerprint()


def test_a_directory_that_is_not_a_run_is_never_deleted(tmp_path, experiment):
    (tmp_path / "notes.txt").write_text("keep me")
    for fresh in (False, True):
        with pytest.raises(ValueError, match="not a run directory"):
            open_run(tmp_path, experiment, fresh=fresh)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a directory"):
        open_run(tmp_path / "file", experiment)


def test_manifest_holds_no_secret_value(tmp_path, monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("MERCATO_TEST_API_KEY", secret)
    remote = {
        "backend": "openai",
        "model": "m",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key_env": "MERCATO_TEST_API_KEY",
    }
    roster = {"proposer": "random", "responder": {"policy": "llm", "model": "remote"}}
    experiment = load_experiment(experiment_data(models={"remote": remote}, roster=roster))
    run = open_run(tmp_path / "run", experiment)
    write(run, experiment, 0)
    run.update_manifest(status="complete")
    text = (run.path / "manifest.json").read_text()
    assert "MERCATO_TEST_API_KEY" in text
    for path in run.path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_an_empty_run_loads_empty_tables_with_the_right_columns(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    episodes, steps = load(run.path)
    assert episodes.empty and steps.empty
    assert "param_max_pie" in episodes.columns and "return_responder_0" in episodes.columns
    assert episodes.dtypes["param_max_pie"] == "Int64"
    assert list(steps.columns) == list(STEP_COLUMNS)
    assert steps.dtypes["step"] == "Int64" and steps.dtypes["reward"] == "float64"


def test_a_run_dir_reopened_for_its_writer_commits_shards_others_cannot(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    worker_side = RunDir(str(tmp_path / "run"), owner=run.owner)  # as a Ray worker rebuilds it
    write(worker_side, experiment, 1)
    assert worker_side.done_shards() == {"s00001"}
    assert set(load_episodes(tmp_path / "run")["run_id"]) == {worker_side.run_id}
    stranger = RunDir(str(tmp_path / "run"), owner="someone-else")
    with pytest.raises(LeaseLost, match=r"lost the run.*not committed"):
        write(stranger, experiment, 2)
    lease = json.loads((run.path / "lease.json").read_text())
    assert lease["owner"] == run.owner and lease["run_id"] == run.run_id
    (run.path / "lease.json").write_text(json.dumps({**lease, "run_id": "another-run"}))
    with pytest.raises(LeaseLost, match=r"now holds run another-run.*not committed"):
        write(worker_side, experiment, 2)  # the lease names another run: never commit into it
    (run.path / "lease.json").write_text(json.dumps(lease))
    run.close()
    with pytest.raises(LeaseLost, match="nobody holds it"):
        write(worker_side, experiment, 2)  # the writer let go: its stragglers commit nothing
    assert worker_side.done_shards() == {"s00001"}


def test_a_second_writer_is_refused_while_the_first_holds_the_run(tmp_path, experiment):
    first = open_run(tmp_path / "run", experiment)
    for fresh in (False, True):
        with pytest.raises(LeaseHeld, match=r"being written by another run \(pid \d+ on .*ago\)"):
            open_run(tmp_path / "run", experiment, fresh=fresh)
    write(first, experiment, 0)
    assert first.done_shards() == {"s00000"}  # --fresh deleted nothing
    first.close()
    open_run(tmp_path / "run", experiment).close()


def test_non_numeric_metric_is_refused_with_its_column(tmp_path, experiment):
    run = open_run(tmp_path / "run", experiment)
    spec = experiment.episode_specs()[0]
    record = episode_record(spec, run.run_id, verdict="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metric_verdict: expected a number, got 'yes'"):
        run.write_shard("s00000", [record], step_rows(spec))
    assert run.done_shards() == set()


def test_load_of_a_missing_run_says_so(tmp_path):
    with pytest.raises(ValueError, match="not a run directory"):
        load(tmp_path / "nowhere")
