"""Episode shards written by a separate process, so a busy study server's one interpreter (its
GIL) serves pages while Parquet is encoded.

A `ShardCommitter` runs one worker process (spawned: the server has threads) for every study of a
server. For each run it is given, the worker reopens the run as a shard writer for the server's
lease, ``RunDir(location, owner=...)``, the way a Ray worker commits shards for a batch run: the
same files, commit records and lease check. `commit` blocks its caller (the episode's thread)
until the shard is written, or raises what the worker raised; a worker that died is replaced
once and the shard tried again. A worker whose server is killed exits with it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sim.store.runs import RunDir

PARENT_CHECK_S = 1.0
"""How often a worker checks that its server still runs."""
_RUNS: dict[tuple[str, str], RunDir] = {}
"""The worker's runs, by (location, lease owner), each opened at its first shard."""


def _start_worker() -> None:
    watch = threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True)
    watch.start()


def _exit_with(parent: int) -> None:
    """End this worker once its server is gone (a killed server leaves no orphan behind: the
    worker is re-parented, so its parent id changes)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _write(location: str, owner: str, shard_id: str, episodes: list[Any], steps: Any) -> None:
    run = _RUNS.get((location, owner))
    if run is None:
        run = _RUNS[(location, owner)] = RunDir(location, owner=owner)
    run.write_shard(shard_id, episodes, steps)


def _ready() -> bool:
    return True


class ShardCommitter:
    """One worker process writing the shards of any run handed to it, for its lease owner."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
        )
        pool.submit(_ready).result()  # the worker is up (its imports done) before any episode
        return pool

    def commit(
        self, location: str, owner: str, shard_id: str, episodes: list[Any], steps: Any
    ) -> None:
        """Write one shard of the run at ``location`` for lease ``owner`` (blocks until it is
        written; raises the worker's error)."""
        job = (_write, location, owner, shard_id, episodes, steps)
        try:
            self._pool.submit(*job).result()
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one, once
            with self._lock:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
            self._pool.submit(*job).result()

    def close(self) -> None:
        """Let the writes in flight finish, then stop the worker."""
        self._pool.shutdown(wait=True)
