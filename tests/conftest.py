"""Test-session settings: one torch thread (stable on 2 shared cores), no Ray auth prompt."""

from __future__ import annotations

import os

os.environ.setdefault("MERCATO_TORCH_THREADS", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import pytest


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
