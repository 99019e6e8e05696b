"""Test-session settings: one torch thread (stable on 2 shared cores), no Ray auth prompt."""

from __future__ import annotations

import os

os.environ.setdefault("MERCATO_TORCH_THREADS", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Runs written to s3:// go to a moto server on 127.0.0.1 (tests/sim/s3_server.py): it accepts any
# credentials; these placeholders keep the AWS SDK from looking for real ones on the network.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import pytest

from tests.sim.s3_server import s3_bucket, s3_server  # noqa: F401  (shared fixtures)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the whole test session (starting one costs about 4 s)."""
    import ray

    ray.init(
        address="local",  # a fresh instance, never a stale cluster left on the machine
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        namespace="mercato",
    )
    yield ray
    ray.shutdown()
