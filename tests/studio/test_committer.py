"""Shards written by the committer process (a study server's sessions): the episode lands in the
run as the episode's own thread would write it, by another process for the server's lease; a
committer process that died is replaced and the shard still lands; one committer serves two
runs (a server's studies share it)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from sim.store import load
from sim.store.shard_index import read_records
from sim.store.storage import Location
from sim.studio.committer import ShardCommitter
from sim.studio.play import SessionManager
from tests.studio.test_play import WAIT_S, answer, experiment


def play_one(manager: SessionManager, index: int) -> None:
    session = manager.start(manager.experiment.cells()[0].cell_id, index)
    answer(session)
    assert session.join(WAIT_S) and session.status == "finished", session.error


def test_the_committer_process_writes_the_shards_and_survives_a_kill(tmp_path: Path) -> None:
    committer = ShardCommitter()
    manager = SessionManager(tmp_path / "run", experiment(episodes=2), committer=committer)
    other = SessionManager(tmp_path / "other", experiment(), committer=committer)
    try:
        play_one(other, 0)
        play_one(manager, 0)
        (worker,) = [  # the committer's one worker (not multiprocessing's resource tracker)
            child for child in psutil.Process().children()
            if "spawn_main" in " ".join(child.cmdline())
        ]  # fmt: skip
        worker.kill()  # as an out-of-memory kill would
        worker.wait(10)
        play_one(manager, 1)  # a new worker takes the shard
    finally:
        manager.close()
        other.close()
        committer.close()
    assert len(load(tmp_path / "other")[0]) == 1
    records, unreadable = read_records(Location.of(str(tmp_path / "run")))
    assert unreadable == {} and len(records) == 2
    writers = {record.worker for record in records.values()}
    assert len(writers) == 2 and f"pid {os.getpid()}" not in writers  # two workers, not us
    episodes, steps = load(tmp_path / "run")
    assert len(episodes) == 2 and set(steps[steps["agent"] == "bob_0"]["policy"]) >= {"human"}
