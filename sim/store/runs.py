"""Run directories: a manifest, a shard index of commit records, and each shard's Parquet files.

``RUN/manifest.json``, ``RUN/lease.json`` (while a writer holds the run), ``RUN/shards/<id>.json``
(commit records: the shard index), ``RUN/episodes/<id>.<token>.parquet`` and
``RUN/steps/<id>.<token>.parquet``; ``mercato report`` adds ``RUN/report.csv`` and ``RUN/plots/``.
``RUN`` is a local folder or an object-store URI (`sim.store.storage.Location`).

One writer at a time holds the run's lease (`sim.store.lease`); only it writes the manifest,
and every shard commit checks it. A shard is done once its commit record names its two files
with their sizes and sha256 (`sim.store.shard_index`); `load` reads only this run's planned,
committed shards and verifies each file against its record. Schemas: docs/run-directory.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any
from uuid import uuid4

import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from sim.engine.experiment import Experiment
from sim.engine.records import EpisodeRecord, StepColumns
from sim.store.lease import LEASE, Lease, LeaseLost, read_lease
from sim.store.manifest import Manifest
from sim.store.shard_index import (
    EPISODES,
    STEPS,
    RunDamaged,
    ShardRecord,
    audit,
    data_name,
    describe_file,
    encode,
    planned_shard_ids,
    read_records,
    read_shard_file,
    record_name,
    shard_of_record,
)
from sim.store.storage import Location
from sim.store.tables import (
    STEP_SCHEMA,
    episode_column_rank,
    episodes_base,
    episodes_table,
    layout,
    nullable_pandas_type,
    steps_table,
)

__all__ = ["STEP_SCHEMA", "RunDamaged", "RunDir", "load", "load_episodes", "load_steps", "open_run"]

MANIFEST = "manifest.json"
LAYOUT = 2
"""The run-directory layout this code writes and reads (2: commit records and unique names)."""
VERSIONED_PACKAGES = (
    "mercato",
    "torch",
    "transformers",
    "ray",
    "pettingzoo",
    "gymnasium",
    "pyarrow",
)

RunLocation = str | os.PathLike[str] | Location


class RunDir:
    """A run made by `open_run` or `create_run` (holding its lease), or reopened by a worker that
    commits shards for that writer: ``RunDir(location, owner=lease_owner)``."""

    def __init__(self, where: RunLocation, owner: str | None = None, lease: Lease | None = None):
        self.location = Location.of(where)
        self.lease = lease
        self.owner = lease.owner if lease is not None else owner

    @property
    def path(self) -> Path | str:
        """The run's folder (local disks), or its URI as given (object stores)."""
        return Path(self.location.root) if self.location.local else self.location.spec

    @property
    def manifest(self) -> Manifest:
        return read_manifest(self.location)

    @cached_property
    def _first_manifest(self) -> Manifest:
        """The manifest as first read: what never changes during a run (one read per worker)."""
        return self.manifest

    @cached_property
    def run_id(self) -> str:
        return self._first_manifest.run_id

    @cached_property
    def _table_layout(self) -> tuple[dict[str, pa.DataType], tuple[str, ...]]:
        return layout(self._first_manifest)

    @cached_property
    def checksums(self) -> bool:
        return self._first_manifest.checksums == "sha256"

    def done_shards(self) -> set[str]:
        """Planned shards whose commit record and files verify, less those the manifest marks for
        replay (their LLM decisions fell back too often)."""
        return trusted_shards(self.location, self.manifest)

    def write_shard(self, shard_id: str, episodes: list[EpisodeRecord], steps: StepColumns) -> None:
        """Write a finished shard's files under fresh names, then commit them in its record."""
        token = uuid4().hex[:12]
        files = {}
        for kind, table in (
            (STEPS, steps_table(steps)),
            (EPISODES, episodes_table(episodes, *self._table_layout)),
        ):
            name = data_name(kind, shard_id, token)
            data = encode(table)
            self.location.write_bytes(name, data)
            files[kind] = describe_file(name, data, table.num_rows, self.checksums)
        self.check_writer()
        record = ShardRecord(
            shard_id=shard_id,
            run_id=self.run_id,
            owner=str(self.owner),
            written=_now(),
            host=socket.gethostname(),
            node=_ray_node(),
            worker=f"pid {os.getpid()}",
            **files,
        )
        self.location.write_json(record_name(shard_id), record.to_json())

    def check_writer(self) -> None:
        """Raise `LeaseLost` unless this writer still holds the run's lease, for this run."""
        if self.lease is not None:
            self.lease.check()
            return
        current = read_lease(self.location)
        if current is None and not self.location.exists(MANIFEST):
            raise LeaseLost(
                f"{self.location.name()}: no run there as seen from {socket.gethostname()}, so "
                "the shard was not committed; on a multi-node cluster --out must be object storage "
                "(s3://...) or a filesystem every node shares"
            )
        if current is None or current.owner != self.owner:
            who = current.holder() if current else "nobody holds it"
            raise LeaseLost(
                f"{self.location.name()}: the writer this shard was played for lost the run "
                f"({who}); the shard was not committed"
            )
        if current.run_id != self.run_id:
            raise LeaseLost(
                f"{self.location.name()}: now holds run {current.run_id}, not {self.run_id} "
                "(replaced with --fresh?); the shard was not committed"
            )

    def update_manifest(self, **fields: Any) -> Manifest:
        """Merge ``fields`` (status, timings, counts) into the manifest, atomically."""
        self.check_writer()
        manifest = self.manifest.model_copy(update={**fields, "updated": _now()})
        manifest = Manifest.model_validate(manifest.to_json())  # the updated fields, checked
        self.location.write_json(MANIFEST, manifest.to_json())
        return manifest

    def remove_leftovers(self) -> list[str]:
        """Delete temporary files and data files no commit record names (abandoned writes)."""
        leftovers = [p for p in self.location.files(recursive=True) if p.endswith(".tmp")]
        leftovers += audit(self.location, self.manifest, deep=False).uncommitted
        for path in leftovers:
            self.location.delete(path)
        return leftovers

    def close(self) -> bool:
        """Let go of the run's lease (a writer's last act); False when the storage failed and the
        lease stays (the next writer needs ``--takeover``)."""
        return self.lease.release() if self.lease is not None else True

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_run(
    out: RunLocation,
    experiment: Experiment,
    fresh: bool = False,
    takeover: bool = False,
    checksums: bool = True,
) -> RunDir:
    """Take ``out``'s lease and create it for ``experiment``, or reopen it to resume the same
    experiment. The returned `RunDir` holds the lease (renewed in the background) until `close`.

    A run of another experiment is refused unless ``fresh`` (which deletes its contents first).
    A non-empty folder that is not a run directory is never touched.
    """
    fingerprint = experiment.fingerprint()

    def check(manifest: Manifest, location: Location) -> None:
        if manifest.fingerprint != fingerprint:
            raise ValueError(
                f"{location.name()} holds a run of a different experiment "
                f"({manifest.name!r}, fingerprint {str(manifest.fingerprint)[:12]}, "
                f"this one {fingerprint[:12]}); pass --fresh to replace it or choose another --out"
            )

    def new_manifest() -> dict[str, Any]:
        created = datetime.now(UTC)
        cells = [cell.as_dict() for cell in experiment.cells()]
        return {
            "run_id": f"{experiment.name}-{created:%Y%m%dT%H%M%SZ}-{uuid4().hex[:6]}",
            "name": experiment.name,
            "env": experiment.env,
            "fingerprint": fingerprint,
            "seed": experiment.seed,
            "plan": {
                "cells": len(cells),
                "episodes": len(cells) * experiment.episodes,
                "shards": len(experiment.shards()),
            },
            "experiment": experiment.resolved(),
            "cells": cells,
        }

    return _open(out, fresh, takeover, checksums, new_manifest, check)


def create_run(
    out: RunLocation, manifest_fields: dict[str, Any], fresh: bool = False, takeover: bool = False
) -> RunDir:
    """Create a run without an `Experiment` (e.g. for imported data); it holds the lease.

    ``manifest_fields`` must hold ``run_id``, ``name`` and ``cells`` (each cell's ``cell_id``,
    ``params`` and ``roster``: what the episodes writer needs) and should hold ``plan`` (its
    ``shards`` count names the shards `load` reads). An existing location is refused unless it is
    empty, or a run directory and ``fresh``.
    """
    missing = [key for key in ("run_id", "name", "cells") if key not in manifest_fields]
    if missing:
        raise ValueError(f"create_run: manifest fields missing {missing}")

    def refuse(manifest: Manifest, location: Location) -> None:
        raise ValueError(
            f"{location.name()}: not empty; choose another --out (or --fresh for a run directory)"
        )

    return _open(out, fresh, takeover, True, lambda: dict(manifest_fields), refuse)


def _open(
    out: RunLocation,
    fresh: bool,
    takeover: bool,
    checksums: bool,
    new_manifest: Any,
    check_resume: Any,
) -> RunDir:
    location = Location.of(out)
    if location.local and Path(location.root).exists() and not Path(location.root).is_dir():
        raise ValueError(f"{location.name()}: exists and is not a directory; choose another --out")
    present = location.files(recursive=True)
    if present and MANIFEST not in present and LEASE not in present:
        raise ValueError(
            f"{location.name()}: not empty and not a run directory (no {MANIFEST}); "
            "choose another --out"
        )
    lease = Lease.acquire(location, takeover=takeover)
    try:
        try:
            manifest = _manifest_at(location)
        except ValueError as error:
            if not fresh:
                raise ValueError(f"{error}; pass --fresh to start over") from None
            manifest = None
        if manifest is not None and not fresh:
            check_resume(manifest, location)
            require_layout(
                location, manifest, "pass --fresh to play it again, or choose another --out"
            )
        else:
            for path in location.files(recursive=True):
                if path != LEASE:
                    location.delete(path)
            manifest = Manifest.model_validate(
                {
                    **new_manifest(),
                    "layout": LAYOUT,
                    "checksums": "sha256" if checksums else None,
                    "created": _now(),
                    "versions": package_versions(),
                    "git_commit": git_commit(),
                    "out": location.uri,
                }
            )
        manifest = manifest.model_copy(update={"status": "running", "updated": _now()})
        location.write_json(MANIFEST, manifest.to_json())
        lease.bind(manifest.run_id)
        run = RunDir(location, lease=lease)
        run.remove_leftovers()
        lease.start_heartbeat()
        return run
    except BaseException:
        lease.release()
        raise


def pending_shards(out: RunLocation, experiment: Experiment, fresh: bool) -> bool:
    """Whether `open_run` on ``out`` would leave shards to play (a read-only look)."""
    location = Location.of(out)
    if fresh:
        return True
    try:
        manifest = read_manifest(location)
    except ValueError:
        return True
    if manifest.fingerprint != experiment.fingerprint() or manifest.layout != LAYOUT:
        return True  # open_run decides (it refuses another experiment's directory)
    done = trusted_shards(location, manifest)
    return any(shard.shard_id not in done for shard in experiment.shards())


def trusted_shards(location: Location, manifest: Manifest) -> set[str]:
    """Planned shards whose record and files verify, less those marked for replay: what "done"
    means for resuming."""
    return set(audit(location, manifest).ok) - set(manifest.replay_shards)


def require_layout(location: Location, manifest: Manifest, what_to_do: str) -> None:
    """ValueError unless the run was written in this code's layout (`LAYOUT`)."""
    if manifest.layout != LAYOUT:
        raise ValueError(
            f"{location.name()}: written by an older mercato (no shard index); {what_to_do}"
        )


def read_manifest(run: RunLocation) -> Manifest:
    """The manifest of ``run``, or a ValueError saying it is not a run directory."""
    location = Location.of(run)
    manifest = _manifest_at(location)
    if manifest is None:
        raise ValueError(f"{location.name()}: not a run directory (no {MANIFEST})")
    return manifest


def _manifest_at(location: Location) -> Manifest | None:
    """The manifest at ``location`` (None when there is none); one-line ValueError when it is
    unreadable or not a mercato manifest."""
    data = location.read_json(MANIFEST)  # ValueError when unreadable
    if data is None:
        return None
    try:
        return Manifest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "manifest"
        raise ValueError(
            f"{location.name()}: {MANIFEST} is not a mercato manifest ({where}: {first['msg']})"
        ) from None


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a run's results depend on (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    """The commit checked out where mercato's source lives, if it is a git working tree."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _ray_node() -> str | None:
    """The Ray node this process runs on, when it is part of a Ray cluster."""
    if "ray" not in sys.modules:  # never imported here: not connected (and ~1 s not spent)
        return None
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except Exception:  # Ray absent or not connected: the host name says enough
        return None
    return None


# --- loading ---


def committed_shards(location: Location, manifest: Manifest) -> Iterator[ShardRecord]:
    """The run's committed shards of its plan, in shard order; `RunDamaged` when a planned shard's
    record is another run's or unreadable."""
    require_layout(location, manifest, "re-run it with --fresh to read it")
    records, unreadable = read_records(location)
    planned = planned_shard_ids(manifest)
    for path, why in unreadable.items():
        shard_id = shard_of_record(path)
        if planned is None or shard_id in planned:
            raise RunDamaged(
                f"{location.name()}: shard {shard_id} is damaged: its commit record is unreadable "
                f"({why}); re-running the experiment into it replays the shard"
            )
    for shard_id in sorted(records):
        record = records[shard_id]
        if planned is not None and shard_id not in planned:
            continue
        if record.run_id != manifest.run_id:
            raise RunDamaged(
                f"{location.name()}: shard {shard_id} is damaged: its commit record belongs to "
                f"run {record.run_id}, not {manifest.run_id}; re-running the experiment into "
                "it replays the shard"
            )
        yield record


def _read(location: Location, kind: str, base: pa.Schema, verify: bool) -> pd.DataFrame:
    manifest = read_manifest(location)
    tables = [base.empty_table()]
    tables += [
        read_shard_file(location, record, kind, verify)
        for record in committed_shards(location, manifest)
    ]
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.to_pandas(types_mapper=nullable_pandas_type)


def load_episodes(run: RunLocation, verify: bool = True) -> pd.DataFrame:
    """The episodes table of every committed shard, sorted by (cell_id, episode_index).

    ``verify`` checks each file's size, sha256 and rows against its commit record first
    (`RunDamaged` names a shard that fails); ``verify=False`` skips the hash."""
    location = Location.of(run)
    base = episodes_base(read_manifest(location))
    frame = _read(location, EPISODES, base, verify)
    frame = frame[sorted(frame.columns, key=episode_column_rank)]
    return frame.sort_values(["cell_id", "episode_index"], kind="stable", ignore_index=True)


def load_steps(run: RunLocation, verify: bool = True) -> pd.DataFrame:
    """The steps table of every committed shard, sorted by (episode_id, step)."""
    frame = _read(Location.of(run), STEPS, STEP_SCHEMA, verify)
    return frame.sort_values(["episode_id", "step"], kind="stable", ignore_index=True)


def load(run: RunLocation, verify: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(episodes, steps)`` of a run (a folder or a URI), committed shards only, each file
    verified against its commit record; empty tables with the right columns when none is done."""
    return load_episodes(run, verify), load_steps(run, verify)
