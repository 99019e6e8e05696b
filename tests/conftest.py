"""Test-session settings: one torch thread (stable on 2 shared cores), no Ray auth prompt."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

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


# Folders that tests used to leave behind outside their tmp dirs: SB3's default loggers
# (SB3-<time> in the system temp dir), the notebooks' run folders (mercato-nb-*) and RLlib's
# per-algorithm log folders (~/ray_results/<time>...).
_LITTER = {
    Path(tempfile.gettempdir()): ("SB3-*", "mercato-nb-*"),
    Path("~/ray_results").expanduser(): ("*",),
}


def _litter() -> set[Path]:
    return {p for folder, globs in _LITTER.items() for g in globs for p in folder.glob(g)}


@pytest.fixture(scope="session", autouse=True)
def no_litter_outside_tmp(tmp_path_factory):
    """Send SB3's default log folders into the session's tmp dir; warn about new litter at the end.

    SB3's ``configure()`` makes a folder on every ``learn()`` of a model without its own logger
    (``$SB3_LOGDIR``, else ``<tempdir>/SB3-<time>``). The end check warns, never fails: other
    processes share the system temp dir.
    """
    before = _litter()
    saved = os.environ.get("SB3_LOGDIR")
    if saved is None:
        os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
    yield
    if saved is None:
        os.environ.pop("SB3_LOGDIR", None)
    new = sorted(str(p) for p in _litter() - before)
    if new:
        shown = ", ".join(new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
        message = f"the tests left {len(new)} folder(s) outside their tmp dirs: {shown}"
        warnings.warn(message, stacklevel=1)
