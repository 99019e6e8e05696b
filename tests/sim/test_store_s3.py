"""Runs written to S3 (moto's server on 127.0.0.1): in-process and from Ray workers, verified,
damaged and repaired, through an outage of the server, and to destinations that cannot work.

The results must equal the same experiment played in-process into a local folder (`reference`).
"""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest

from sim.engine.batch import run
from sim.store.runs import load
from sim.store.shard_index import RunDamaged
from tests.sim.s3_server import free_port
from tests.sim.test_run_integrity import (
    SHARDS,
    Cli,
    assert_same_run,
    audit_of,
    error_line,
    experiment,
    invoke,
    slow,
    wait_for,
    write_spec,
)

PREFIX = "runs"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The experiment played in-process into a local folder, uninterrupted."""
    return Path(run(experiment(), workers=0, out=tmp_path_factory.mktemp("reference") / "run"))


@pytest.fixture
def spec_path(tmp_path) -> Path:
    """`experiment()` as a YAML file, for `mercato run`."""
    return write_spec(tmp_path, experiment(), name="quick.yaml")


def client(server):
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")


def keys(server, bucket: str, prefix: str) -> list[str]:
    """Every object key under ``prefix/`` (relative to it), less folder markers (``episodes/``)."""
    pages = (
        client(server).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
    )
    found = (item["Key"][len(prefix) + 1 :] for page in pages for item in page.get("Contents", []))
    return sorted(key for key in found if key and not key.endswith("/"))


def assert_complete_run(server, bucket: str, prefix: str) -> None:
    """A complete run's objects: its manifest, one record and two data files per shard, no lease."""
    names = keys(server, bucket, prefix)
    assert "manifest.json" in names and "lease.json" not in names, names
    assert sorted(n for n in names if n.startswith("shards/")) == [
        f"shards/{s}.json" for s in SHARDS
    ]
    for table in ("episodes", "steps"):
        assert len([n for n in names if n.startswith(f"{table}/")]) == len(SHARDS), names


def test_a_run_to_s3_loads_and_verifies_like_a_local_run(s3_bucket, reference):
    server, bucket = s3_bucket
    uri = server.uri(bucket, f"{PREFIX}/in-process")
    run(experiment(), workers=0, out=uri)
    assert_same_run(uri, reference)
    assert_complete_run(server, bucket, f"{PREFIX}/in-process")
    verified = invoke("verify", uri)
    assert verified.exit_code == 0, verified.output
    assert audit_of(uri).clean


@pytest.mark.ray
@pytest.mark.slow
def test_ray_workers_write_their_shards_to_s3(ray_local, s3_bucket, reference):
    server, bucket = s3_bucket
    uri = server.uri(bucket, f"{PREFIX}/ray")
    run(experiment(), workers=2, out=uri)
    assert_same_run(uri, reference)
    assert_complete_run(server, bucket, f"{PREFIX}/ray")
    verified = invoke("verify", uri)
    assert verified.exit_code == 0, verified.output


def test_damage_on_s3_is_found_refused_and_repaired(tmp_path, s3_bucket, reference):
    """A bit flipped in one shard's episodes object, another shard's steps object deleted."""
    server, bucket = s3_bucket
    prefix = f"{PREFIX}/damaged"
    uri = server.uri(bucket, prefix)
    run(experiment(), workers=0, out=uri)
    s3 = client(server)
    flipped = next(k for k in keys(server, bucket, prefix) if k.startswith("episodes/s00001."))
    data = bytearray(s3.get_object(Bucket=bucket, Key=f"{prefix}/{flipped}")["Body"].read())
    data[len(data) // 3] ^= 0x10
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{flipped}", Body=bytes(data))
    deleted = next(k for k in keys(server, bucket, prefix) if k.startswith("steps/s00003."))
    s3.delete_object(Bucket=bucket, Key=f"{prefix}/{deleted}")

    found = invoke("verify", uri)
    assert found.exit_code == 1, found.output
    assert "s00001" in found.stdout and "s00003" in found.stdout, found.stdout
    assert set(audit_of(uri).damaged) == {"s00001", "s00003"}
    with pytest.raises(RunDamaged, match=r"s0000[13]"):
        load(uri)
    spec = write_spec(tmp_path, experiment())
    again = invoke("run", spec, "--workers", "0", "--out", uri)
    assert again.exit_code == 0, again.output
    assert invoke("verify", uri).exit_code == 0
    assert_same_run(uri, reference)
    assert_complete_run(server, bucket, prefix)  # the damaged shards' old objects are gone


@pytest.mark.slow
def test_a_run_survives_an_s3_outage_and_resumes(tmp_path, s3_bucket, reference):
    """The server goes away once a shard is committed: the writer exits non-zero with one line
    naming the location; with the server back, the same command with --takeover completes it."""
    server, bucket = s3_bucket
    prefix = f"{PREFIX}/outage"
    uri = server.uri(bucket, prefix)
    spec = write_spec(tmp_path, slow(0.3))  # about 5 s of play
    args = ["run", str(spec), "--workers", "0", "--out", uri]
    writer = Cli(args, tmp_path / "writer").start()
    try:
        wait_for(lambda: any(k.startswith("shards/") for k in keys(server, bucket, prefix)), writer)
        server.stop()
        try:
            code = writer.wait(timeout=120)
        finally:
            server.start()
    finally:
        writer.kill()
    assert code != 0, writer.stdout + writer.stderr
    line = error_line(writer.stderr)
    assert f"s3://{bucket}/{prefix}" in line, line
    partial, _ = load(uri)
    assert 0 < len(partial) < 18  # the outage really cut the run short
    # The writer could not delete its lease while the server was away: the re-run names the dead
    # writer and takes its run over only when asked.
    refused = invoke(*args)
    assert refused.exit_code == 2, refused.output
    line = error_line(refused.stderr)
    assert "stale" in line and "--takeover" in line and f"pid {writer.pid}" in line, line
    again = invoke(*args, "--takeover")
    assert again.exit_code == 0, again.output
    assert_same_run(uri, reference, scripted=True)
    assert_complete_run(server, bucket, prefix)


@pytest.mark.slow
def test_a_missing_bucket_or_a_dead_endpoint_is_one_error_line(tmp_path, s3_bucket, spec_path):
    server, _ = s3_bucket
    missing = "no-such-bucket-4f2a"
    port = free_port()  # nothing listens there
    dead = server.uri("runs", "x").replace(f":{server.port}", f":{port}")
    started = time.monotonic()
    runs = [
        Cli(["run", str(spec_path), "--workers", "0", "--out", out], tmp_path / name).start()
        for name, out in (("missing", server.uri(missing, "runs/x")), ("dead", dead))
    ]
    codes = [r.wait(timeout=120) for r in runs]
    elapsed = time.monotonic() - started
    assert codes[0] in (1, 2), runs[0].stdout + runs[0].stderr
    line = error_line(runs[0].stderr)
    assert missing in line and "does not exist" in line, line
    assert codes[1] != 0, runs[1].stdout + runs[1].stderr
    line = error_line(runs[1].stderr)
    assert f"127.0.0.1:{port}" in line or "s3://runs/x" in line, line
    assert elapsed < 60, f"an unreachable endpoint took {elapsed:.0f} s to report"
    buckets = client(server).list_buckets().get("Buckets", [])
    assert missing not in {b["Name"] for b in buckets}  # nothing made the bucket
