"""Episode shards written by a separate process, so a busy study server's one interpreter (its
GIL) serves pages while Parquet is encoded.

A `ShardCommitter` runs one worker process (spawned: the server has threads) that reopens the
run as a shard writer for the server's lease, ``RunDir(location, owner=...)``, the way a Ray
worker commits shards for a batch run: the same files, commit records and lease check. `commit`
blocks its caller (the episode's thread) until the shard is written, or raises what the worker
raised; a worker that died is replaced once and the shard tried again.
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

_RUN: RunDir | None = None
"""The worker process's run, opened once by `_open`."""
PARENT_CHECK_S = 1.0
"""How often a worker checks that its server still runs."""


def _open(location: str, owner: str) -> None:
    global _RUN
    _RUN = RunDir(location, owner=owner)
    watch = threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True)
    watch.start()


def _exit_with(parent: int) -> None:
    """End this worker once its server is gone (a killed server leaves no orphan behind: the
    worker is re-parented, so its parent id changes)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _write(shard_id: str, episodes: list[Any], steps: Any) -> None:
    assert _RUN is not None, "the committer's run was not opened"
    _RUN.write_shard(shard_id, episodes, steps)


def _ready() -> bool:
    return _RUN is not None


class ShardCommitter:
    """One worker process writing the shards of the run at ``location`` for lease ``owner``."""

    def __init__(self, location: str, owner: str) -> None:
        self._args = (location, owner)
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_open,
            initargs=self._args,
        )
        pool.submit(_ready).result()  # the worker is up (its imports done) before any episode
        return pool

    def commit(self, shard_id: str, episodes: list[Any], steps: Any) -> None:
        """Write one shard (blocks until written; raises the worker's error)."""
        try:
            self._pool.submit(_write, shard_id, episodes, steps).result()
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one, once
            with self._lock:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
            self._pool.submit(_write, shard_id, episodes, steps).result()

    def close(self) -> None:
        """Let the writes in flight finish, then stop the worker."""
        self._pool.shutdown(wait=True)
