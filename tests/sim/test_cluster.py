"""Runs on real Ray clusters on 127.0.0.1, writing to S3 (moto): a two-node cluster that loses a
node mid-run, a `ray job submit` of `mercato run`, and a driver joined through Ray Client. Each
result must equal the same experiment played in-process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.engine.batch import run
from sim.store.runs import load
from tests.sim.ray_cluster import RAY, ROOT, ray_env, ray_jobs_head, two_node_cluster
from tests.sim.test_batch import NOISE, experiment

__all__ = ["ray_jobs_head", "two_node_cluster"]  # fixtures, registered by this import

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.timeout(300)]


def slow_experiment() -> dict:
    """40 shards of about 0.5 s (a proposer that sleeps 50 ms a decision): long enough to lose a
    node while most shards are still to play."""
    return experiment(
        roster={
            "proposer": {"policy": "ultimatum/slow-random", "options": {"delay_s": 0.05}},
            "responder": "random",
        },
        episodes=200,
        shard_size=10,
    )


def quick_twin() -> dict:
    """The same episodes as `slow_experiment` without the sleeps (the same seeds and choices)."""
    return experiment(
        roster={"proposer": "random", "responder": "random"}, episodes=200, shard_size=10
    )


def tables(location) -> tuple[pd.DataFrame, pd.DataFrame]:
    episodes, steps = load(location)
    return episodes.drop(columns=NOISE).reset_index(drop=True), steps.reset_index(drop=True)


def assert_same_episodes(location, reference, scripted_twin: bool = False) -> None:
    """Equal tables; with ``scripted_twin`` the roster/policy labels (the slow policy's name)
    are left out."""
    (episodes, steps), (want_episodes, want_steps) = tables(location), tables(reference)
    if scripted_twin:
        episodes, want_episodes = (
            episodes.drop(columns=["roster"]),
            want_episodes.drop(columns=["roster"]),
        )
        steps, want_steps = steps.drop(columns=["policy"]), want_steps.drop(columns=["policy"])
    pd.testing.assert_frame_equal(episodes, want_episodes)
    pd.testing.assert_frame_equal(steps, want_steps)


class Bucket:
    """Reads a run's objects straight from the S3 server (not through `sim.store.storage`)."""

    def __init__(self, server, name: str, prefix: str) -> None:
        import boto3

        self.client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")
        self.name, self.prefix = name, prefix

    def keys(self, folder: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=f"{self.prefix}/{folder}/"
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def json(self, key: str) -> dict:
        return json.loads(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())

    def record_keys(self) -> set[str]:
        """The run's commit records (one per committed shard)."""
        return {key for key in self.keys("shards") if key.endswith(".json")}

    def records(self) -> list[dict]:
        return [self.json(key) for key in sorted(self.record_keys())]


def assert_one_node_run(bucket: Bucket, address: str, shards: int) -> None:
    """A complete run on the one-node head: the manifest names the address and the node, and
    every shard's commit record names that node."""
    manifest = bucket.json(f"{bucket.prefix}/manifest.json")
    assert (manifest["status"], manifest["address"]) == ("complete", address)
    [node] = manifest["cluster"]["nodes"]
    records = bucket.records()
    assert len(records) == shards and {r["node"] for r in records} == {node["node_id"]}


def write_spec(tmp_path: Path, data: dict) -> Path:
    spec = tmp_path / "exp.yaml"
    spec.write_text(yaml.safe_dump(data))
    return spec


def test_a_two_node_run_to_s3_survives_losing_a_node(two_node_cluster, s3_bucket, tmp_path):
    server, name = s3_bucket
    uri, bucket = server.uri(name, "two-node"), Bucket(server, name, "two-node")
    log = tmp_path / "driver.log"
    command = [sys.executable, "-m", "sim.cli", "run", str(write_spec(tmp_path, slow_experiment())),
               "--address", two_node_cluster.address, "--out", uri]  # fmt: skip
    with log.open("wb") as sink:
        driver = subprocess.Popen(
            command, env=ray_env(), cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        # Lose the second node once both nodes have committed a shard: it is then busy with
        # its next one, which Ray must retry on the head.
        writers: dict[str, str] = {}
        deadline = time.monotonic() + 150
        while len(set(writers.values())) < 2:
            assert driver.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"{writers}\n" + log.read_text()
            for key in bucket.record_keys() - set(writers):
                writers[key] = bucket.json(key)["node"]
            time.sleep(0.1)
        two_node_cluster.kill_worker()
        code = driver.wait(timeout=240)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert code == 0, log.read_text()
    assert len(writers) < 40, writers  # the node was lost mid-run, not after it
    assert two_node_cluster.worker.poll() is not None

    manifest = bucket.json(f"{bucket.prefix}/manifest.json")
    assert manifest["status"] == "complete"
    node_ids = {node["node_id"] for node in manifest["cluster"]["nodes"]}
    assert len(node_ids) == 2
    records = bucket.records()
    assert sorted(r["shard_id"] for r in records) == [f"s{n:05d}" for n in range(40)]
    assert {r["node"] for r in records} == node_ids  # each shard names the node that wrote it
    assert len({r["run_id"] for r in records}) == 1

    reference = run(quick_twin(), workers=0, out=tmp_path / "ref")
    assert_same_episodes(uri, reference, scripted_twin=True)


def test_ray_job_submit_runs_an_experiment(ray_jobs_head, s3_bucket, tmp_path):
    _, dashboard = ray_jobs_head
    server, name = s3_bucket
    uri = server.uri(name, "job")
    spec = write_spec(tmp_path, experiment())
    # The project travels as the job's working_dir (.gitignore'd paths stay behind); the driver
    # runs on the head with the venv's python and joins the cluster the job runs in.
    runtime_env = {"working_dir": str(ROOT), "excludes": [".git", "runs", "notebooks"]}
    submitted = subprocess.run(
        [RAY, "job", "submit", "--address", dashboard, "--runtime-env-json",
         json.dumps(runtime_env), "--", sys.executable, "-m", "sim.cli", "run", str(spec),
         "--address", "auto", "--out", uri],
        env=ray_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, output
    assert "succeeded" in output
    assert_one_node_run(Bucket(server, name, "job"), address="auto", shards=5)
    episodes, _ = load(uri)
    assert len(episodes) == 18 and episodes["episode_id"].is_unique
    assert_same_episodes(uri, run(experiment(), workers=0, out=tmp_path / "ref"))


def test_ray_client_address_runs_an_experiment(ray_jobs_head, s3_bucket, tmp_path):
    server, name = s3_bucket
    uri = server.uri(name, "client")
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(write_spec(tmp_path, experiment())),
         "--address", ray_jobs_head.client, "--out", uri],
        env=ray_env(), cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert_one_node_run(Bucket(server, name, "client"), address=ray_jobs_head.client, shards=5)
    assert_same_episodes(uri, run(experiment(), workers=0, out=tmp_path / "ref"))
