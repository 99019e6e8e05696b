"""Batch runs: the same episodes in-process and on Ray with 1 or 2 workers; resume after an
interrupted driver or a dead worker; a separate Ray head as a user's cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
from sim.engine.batch import run
from sim.store.runs import load

NOISE = ["wall_s", "run_id"]


def experiment(**changes):
    data = {
        "name": "batch-test",
        "imports": ["tests.envs_fixtures.registered"],
        "env": "mercato/TestUltimatum-v0",
        "grid": {"max_pie": [20.0, 50.0]},
        "models": {"fake": "fake"},  # seeded pseudo-replies: parse failures, re-asks, choices
        "max_fallback_rate": 1.0,  # the engine is under test here, not the model
        "roster": {"proposer": "random", "responder": {"policy": "llm", "model": "fake"}},
        "episodes": 9,
        "shard_size": 4,
        "lockstep": 3,
    }
    data.update(changes)
    return data


def tables(run_dir):
    episodes, steps = load(run_dir)
    return episodes.drop(columns=NOISE).reset_index(drop=True), steps.reset_index(drop=True)


def assert_same_run(a, b):
    pd.testing.assert_frame_equal(tables(a)[0], tables(b)[0])
    pd.testing.assert_frame_equal(tables(a)[1], tables(b)[1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The experiment played in-process, uninterrupted."""
    return run(experiment(), workers=0, out=tmp_path_factory.mktemp("ref") / "run")


def test_in_process_run_plays_every_episode_once(reference):
    episodes, steps = load(reference)
    assert len(episodes) == 18 and episodes["episode_id"].is_unique
    assert set(steps["episode_id"]) == set(episodes["episode_id"])
    assert sim.run is run


def test_interrupted_driver_resumes_without_loss_or_duplicates(tmp_path, reference):
    seen = []

    def interrupt_after_two(summary, finished, total):
        seen.append(summary.shard_id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(experiment(), workers=0, out=out, on_progress=interrupt_after_two)
    assert yaml.safe_load((out / "manifest.json").read_text())["status"] == "interrupted"
    assert len(load(out)[0]) == 8
    resumed = []
    run(experiment(), workers=0, out=out, on_progress=lambda s, f, t: resumed.append(s.shard_id))
    assert len(resumed) == 3 and not set(resumed) & set(seen)
    assert_same_run(out, reference)


@pytest.mark.ray
def test_one_and_two_ray_workers_give_the_in_process_tables(ray_local, tmp_path, reference):
    one = run(experiment(), workers=1, out=tmp_path / "one")
    two = run(experiment(), workers=2, out=tmp_path / "two")
    assert_same_run(one, reference)
    assert_same_run(two, reference)


@pytest.mark.ray
def test_a_dead_worker_has_its_shard_retried(ray_local, tmp_path):
    marker = tmp_path / "crashed"
    crashing = experiment(
        roster={"proposer": {"policy": "ultimatum/crash-once", "options": {"marker": str(marker)}},
                "responder": "random"},
    )  # fmt: skip
    out = run(crashing, workers=2, out=tmp_path / "run")
    assert marker.exists()  # a worker really died
    episodes, _ = load(out)
    assert len(episodes) == 18 and episodes["episode_id"].is_unique
    calm = experiment(roster={"proposer": "random", "responder": "random"})
    calm_episodes, calm_steps = tables(run(calm, workers=0, out=tmp_path / "calm"))
    episodes, steps = tables(out)
    pd.testing.assert_frame_equal(
        episodes.drop(columns=["roster"]), calm_episodes.drop(columns=["roster"])
    )
    pd.testing.assert_frame_equal(
        steps.drop(columns=["policy"]), calm_steps.drop(columns=["policy"])
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path):
    """A separate Ray head on 127.0.0.1, as a user's cluster; only its own processes are stopped
    afterwards (`ray start --block` tears down what it started), never other Ray instances."""
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    command = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
               "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
               "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    head = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not _listening(port):
            assert head.poll() is None and time.monotonic() < deadline, "ray head did not start"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=90)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.ray
@pytest.mark.slow
def test_a_separate_ray_head_runs_the_experiment_like_a_cluster(ray_head, tmp_path, reference):
    spec = tmp_path / "exp.yaml"
    spec.write_text(yaml.safe_dump(experiment()))
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(spec), "--address", ray_head,
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2],
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_run(tmp_path / "run", reference)


def test_a_parallel_environment_runs_natively(tmp_path):
    pennies = {
        "imports": ["tests.envs_fixtures.registered"],
        "env": "mercato/TestPennies-v0",
        "grid": {"rounds": [1, 4]},
        "roster": {"matcher": "random", "mismatcher": "random"},
        "episodes": 5,
    }
    episodes, _ = load(run(pennies, workers=0, out=tmp_path / "run"))
    assert list(episodes.groupby("cell_id")["steps"].first()) == [2, 8]  # 2 agents x rounds
    assert episodes["metric_match_rate"].between(0, 1).all()
    returns = episodes["return_matcher_0"] + episodes["return_mismatcher_0"]
    assert (returns == 0).all()  # zero-sum, every reward accounted once


@pytest.mark.ray
@pytest.mark.slow
def test_ctrl_c_on_the_cli_leaves_a_resumable_run(tmp_path):
    """SIGINT to `mercato run` on Ray: exit 130, manifest 'interrupted', finished shards kept;
    the same command then plays only what is missing, and the tables equal an uninterrupted run.

    Deterministic: the first cell's 4 shards play at once; the second cell's proposer waits for a
    gate file, so its shards cannot finish before the interrupt, whatever the machine's speed."""
    gate = tmp_path / "gate"
    gated = {"policy": "ultimatum/gated-random", "options": {"gate": str(gate)}}
    data = experiment(
        grid={"max_pie": [20.0]},
        cells=[{"max_pie": 50.0, "roster": {"proposer": gated}}],
        roster={"proposer": "random", "responder": "random"},
        episodes=16,
        shard_size=4,
    )  # fmt: skip  (c000: shards s00000-s00003, quick; c001: s00004-s00007, gated)
    spec = tmp_path / "exp.yaml"
    spec.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "sim.cli",
        "run",
        str(spec),
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    driver = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # A test run started in the background inherits SIGINT ignored, and Python then installs
        # no KeyboardInterrupt handler: give the driver the default disposition a terminal has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while len(list((out / "shards").glob("*.json"))) < 4:
        assert driver.poll() is None and time.monotonic() < deadline, driver.stdout.read()
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=120) == 130
    manifest = yaml.safe_load((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    kept = sorted(p.stem for p in (out / "shards").glob("*.json"))
    assert kept == ["s00000", "s00001", "s00002", "s00003"]  # the gated cell's shards: none
    gate.touch()
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    manifest = yaml.safe_load((out / "manifest.json").read_text())
    assert [i["status"] for i in manifest["invocations"]] == ["interrupted", "complete"]
    quick = {**data, "cells": [{"max_pie": 50.0}]}
    reference_episodes, reference_steps = tables(run(quick, workers=0, out=tmp_path / "reference"))
    episodes, steps = tables(out)
    pd.testing.assert_frame_equal(
        episodes.drop(columns=["roster"]), reference_episodes.drop(columns=["roster"])
    )
    pd.testing.assert_frame_equal(
        steps.drop(columns=["policy"]), reference_steps.drop(columns=["policy"])
    )
