"""Test-session settings: one torch thread (stable on 2 shared cores), no Ray auth prompt."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("MERCATO_TORCH_THREADS", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# CLI tables render 200 columns wide whatever runs the tests: rich reads COLUMNS when the CLI's
# console is made (at import), and an xdist worker has no terminal to measure (80 columns).
os.environ.setdefault("COLUMNS", "200")
# Runs written to s3:// go to a moto server on 127.0.0.1 (tests/sim/s3_server.py): it accepts any
# credentials; these placeholders keep the AWS SDK from looking for real ones on the network.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
# Ray keeps its session folders, and the address of the last cluster started on the machine
# (`ray_current_cluster`, which a later plain `ray.init()` would try to join), under RAY_TMPDIR
# (default /tmp/ray). The test run gets its own short folder (Unix socket paths stay under 108
# bytes), removed by the process that made it: the xdist controller, whose workers inherit it.
if "RAY_TMPDIR" not in os.environ:
    os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="mr-")
    atexit.register(shutil.rmtree, os.environ["RAY_TMPDIR"], ignore_errors=True)

import pytest

from tests.sim.s3_server import s3_bucket, s3_server  # noqa: F401  (shared fixtures)

# -- parallel runs (`make test`: pytest-xdist, `-n 3 --dist loadscope`) -------------------------
# Each xdist worker is a test session of its own: session fixtures (Ray, the real model, the S3
# server) start at most once per worker. A worker takes a whole module at a time, so a module's
# fixtures are built once; notebooks go one by one (they share nothing). Modules with real-model or
# slow tests go first, so the long ones do not end the run on one worker while the others wait.
# (xdist's `--dist loadgroup` cannot do this here: its group suffix on node ids has no effect on
# pytest 9.)

UNGROUPED_MODULES = ("tests/test_notebooks.py",)


def work_unit(nodeid: str) -> str:
    """What an xdist worker takes at once: the test's module, or the test alone in
    `UNGROUPED_MODULES`."""
    module = nodeid.split("::", 1)[0]
    return nodeid if module in UNGROUPED_MODULES else module


def start_rank(item: pytest.Item) -> int:
    """Where ``item`` goes in the run order: real-model tests, then slow or Ray ones, the rest."""
    if item.get_closest_marker("real_llm"):
        return 0
    return 1 if item.get_closest_marker("slow") or item.get_closest_marker("ray") else 2


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's own scheduler
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ModuleScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist workers, order the units by their most urgent test (a stable sort): the scheduler
    hands them out in that order (with `--no-loadscope-reorder`)."""
    if not hasattr(config, "workerinput"):
        return
    rank: dict[str, int] = {}
    for item in items:
        unit = work_unit(item.nodeid)
        rank[unit] = min(rank.get(unit, 2), start_rank(item))
    items.sort(key=lambda item: rank[work_unit(item.nodeid)])


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the whole test session, or xdist worker (starting one costs
    about 4 s)."""
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
# (SB3-<time> in the system temp dir), the notebooks' run folders (mercato-nb-*), Ray's session
# folders and last-cluster file (/tmp/ray) and RLlib's per-algorithm log folders
# (~/ray_results/<time>...).
_LITTER = {
    Path(tempfile.gettempdir()): ("SB3-*", "mercato-nb-*"),
    Path(tempfile.gettempdir()) / "ray": ("session_2*", "ray_current_cluster"),
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
