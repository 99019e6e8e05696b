"""`mercato bench store`: what verified shard commits cost, on local disk and on S3.

The scripted GLEE grid (experiments/glee.yaml's three games, with fewer episodes per cell and
shards shrunk to match, so the shard count stays the full grid's) is played in-process, then
loaded, twice per location: once without verification (commit records without sha256, loads
that skip the hash) and once with it. The ratio of the two wall times is the overhead that
verification adds; the time spent inside shard commits is reported too. S3 is moto's
S3-compatible server started on 127.0.0.1 by the benchmark (``moto[server]``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.engine.experiment import Experiment, load_experiment

GLEE_GAMES = ("experiments/glee/bargaining.yaml", "experiments/glee/negotiation.yaml",
              "experiments/glee/persuasion.yaml")  # fmt: skip


def glee_grid(episodes: int) -> list[Experiment]:
    """The GLEE grid with ``episodes`` per cell and about as many shards as the full grid."""
    grid = []
    for path in GLEE_GAMES:
        experiment = load_experiment(path)
        data = experiment.model_dump(by_alias=True, exclude_none=True)
        data["shard_size"] = max(1, round(experiment.shard_size * episodes / experiment.episodes))
        data["episodes"] = episodes
        grid.append(load_experiment(data))
    return grid


@dataclass
class CommitTimer:
    """Time spent in `RunDir.write_shard` (encoding, hashing, writing, committing)."""

    seconds: list[float] = field(default_factory=list)

    @contextmanager
    def installed(self) -> Iterator[None]:
        from sim.store.runs import RunDir

        original = RunDir.write_shard

        def timed(run_dir: Any, *args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            try:
                original(run_dir, *args, **kwargs)
            finally:
                self.seconds.append(time.perf_counter() - started)

        RunDir.write_shard = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            RunDir.write_shard = original  # type: ignore[method-assign]


@dataclass(frozen=True)
class StoreTiming:
    """One location's runs with and without verification (medians over repeats)."""

    location: str
    shards: int
    plain_s: float
    verified_s: float
    commit_s_per_shard: float
    verified_load_s: float

    @property
    def ratio(self) -> float:
        return self.verified_s / self.plain_s


def play_grid(
    grid: list[Experiment], base: str, checksums: bool, timer: CommitTimer
) -> tuple[float, float]:
    """Run and load every game of the grid under ``base``; (total wall s, load s)."""
    from sim.engine.batch import run
    from sim.store.runs import load
    from sim.store.storage import child_uri

    started = time.perf_counter()
    load_s = 0.0
    with timer.installed():
        for experiment in grid:
            where = child_uri(base, experiment.name)
            run(experiment, workers=0, out=where, checksums=checksums)
            loaded = time.perf_counter()
            load(where, verify=checksums)
            load_s += time.perf_counter() - loaded
    return time.perf_counter() - started, load_s


def measure(
    label: str, grid: list[Experiment], fresh_base: Callable[[], str], repeats: int
) -> StoreTiming:
    """Alternate plain and verified runs ``repeats`` times; medians of each."""
    plain, verified, loads = [], [], []
    timer = CommitTimer()
    for _ in range(repeats):
        plain.append(play_grid(grid, fresh_base(), False, CommitTimer())[0])
        wall, load_s = play_grid(grid, fresh_base(), True, timer)
        verified.append(wall)
        loads.append(load_s)
    shards = sum(len(e.shards()) for e in grid)
    return StoreTiming(
        label,
        shards,
        statistics.median(plain),
        statistics.median(verified),
        statistics.median(timer.seconds),
        statistics.median(loads),
    )


def bench(episodes: int = 3, repeats: int = 2, s3: bool = True) -> list[StoreTiming]:
    """Local disk, then (``s3``) moto's S3 server on 127.0.0.1."""
    grid = glee_grid(episodes)
    timings = []
    with tempfile.TemporaryDirectory(prefix="mercato-bench-store-") as folder:
        counter = iter(range(10**6))
        timings.append(
            measure("local disk", grid, lambda: str(Path(folder) / f"r{next(counter)}"), repeats)
        )
    if s3:
        with _moto_s3() as uri_of:
            counter = iter(range(10**6))
            timings.append(
                measure("S3 (moto, 127.0.0.1)", grid, lambda: uri_of(f"r{next(counter)}"), repeats)
            )
    return timings


@contextmanager
def _moto_s3() -> Iterator[Callable[[str], str]]:
    """moto's S3 server on a free local port with one bucket; yields prefix -> URI."""
    import logging
    import os
    import socket

    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ValueError(
            "bench store: S3 needs moto[server] (pip install 'moto[server]')"
        ) from None
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_EC2_METADATA_DISABLED", "true")):  # fmt: skip
        os.environ.setdefault(name, value)  # moto accepts any; never real credentials
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on the terminal
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="mercato-bench"
        )
        query = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
        yield lambda prefix: f"s3://mercato-bench/{prefix}?{query}"
    finally:
        server.stop()
