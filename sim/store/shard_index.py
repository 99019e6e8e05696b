"""The shard index: one commit record per finished shard, and the checks that trust it.

A shard's Parquet files are written under unique names (``episodes/s00003.<token>.parquet``); the
shard counts as written only once its commit record (``shards/s00003.json``) names them, with
their byte sizes, row counts and sha256. A record is one small object written whole, so commits
need no rename and work on object stores. Readers follow records only: a file no record names is
an abandoned write (a crashed worker, a lost lease) and is never read.

A shard is *trusted* when its record is readable, belongs to this run (``run_id``) and the plan,
and both files exist with the recorded size and hash. `audit` checks every shard and lists what
is damaged, foreign, missing or uncommitted; `read_shard_file` reads one file and refuses a
damaged one with `RunDamaged`, naming the shard.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.store.manifest import Manifest
from sim.store.storage import Location

SHARDS, EPISODES, STEPS = "shards", "episodes", "steps"
KINDS = (EPISODES, STEPS)


class RunDamaged(ValueError):
    """A committed shard's files are missing or differ from its commit record."""


@dataclass(frozen=True)
class ShardFile:
    """One committed Parquet file: where it is, and what it must be."""

    file: str
    bytes: int
    sha256: str | None
    rows: int


@dataclass(frozen=True)
class ShardRecord:
    """A shard's commit record: its files, which run and writer made it, and where."""

    shard_id: str
    run_id: str
    owner: str
    written: str
    host: str
    node: str | None
    worker: str
    episodes: ShardFile
    steps: ShardFile

    def files(self) -> dict[str, ShardFile]:
        return {EPISODES: self.episodes, STEPS: self.steps}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ShardRecord:
        """Parse a record; ValueError when a field is missing or of the wrong type."""
        try:
            files = {kind: ShardFile(**data[kind]) for kind in KINDS}
            fields = {
                name: data[name]
                for name in ("shard_id", "run_id", "owner", "written", "host", "node", "worker")
            }
            record = cls(**fields, **files)
        except (TypeError, KeyError) as error:
            raise ValueError(f"not a commit record ({error})") from None
        for f in record.files().values():
            if not isinstance(f.bytes, int) or not isinstance(f.rows, int):
                raise ValueError("not a commit record (sizes are not integers)")
        return record


def record_name(shard_id: str) -> str:
    return f"{SHARDS}/{shard_id}.json"


def shard_of_record(path: str) -> str:
    """The shard id a commit record's path names (`record_name` backwards)."""
    return path.removeprefix(f"{SHARDS}/").removesuffix(".json")


def data_name(kind: str, shard_id: str, token: str) -> str:
    return f"{kind}/{shard_id}.{token}.parquet"


def encode(table: pa.Table) -> bytes:
    """A table as Parquet bytes (zstd), ready to hash and write in one piece."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def describe_file(name: str, data: bytes, rows: int, checksums: bool) -> ShardFile:
    digest = hashlib.sha256(data).hexdigest() if checksums else None
    return ShardFile(name, len(data), digest, rows)


def planned_shard_ids(manifest: Manifest) -> list[str] | None:
    """The shard ids the run's plan names (``s00000`` ...), or None when the plan is unknown."""
    if manifest.plan is None:
        return None
    count = manifest.plan.shards
    width = max(5, len(str(max(count - 1, 0))))
    return [f"s{n:0{width}d}" for n in range(count)]


def read_records(location: Location) -> tuple[dict[str, ShardRecord], dict[str, str]]:
    """Every commit record by shard id, and the unreadable ones (record path -> reason)."""
    records: dict[str, ShardRecord] = {}
    unreadable: dict[str, str] = {}
    for path in sorted(location.files(SHARDS)):
        if not path.endswith(".json"):
            continue
        try:
            record = ShardRecord.from_json(location.read_json(path))
        except ValueError as error:
            unreadable[path] = str(error).rsplit(": ", 1)[-1]
            continue
        except FileNotFoundError:
            continue  # deleted while listing
        if record_name(record.shard_id) != path:
            unreadable[path] = f"names shard {record.shard_id!r}, not its own"
            continue
        records[record.shard_id] = record
    return records, unreadable


def file_problem(record: ShardRecord, kind: str, sizes: dict[str, int]) -> str | None:
    """Why a committed file cannot be trusted from a listing alone (missing or resized)."""
    f = record.files()[kind]
    size = sizes.get(f.file)
    if size is None:
        return f"its {kind} file {f.file} is missing"
    if size != f.bytes:
        return f"its {kind} file {f.file} has {size} bytes, its commit record says {f.bytes}"
    return None


def content_problem(record: ShardRecord, kind: str, data: bytes) -> str | None:
    """Why a committed file's bytes cannot be trusted (size or sha256 differ, unreadable)."""
    f = record.files()[kind]
    if len(data) != f.bytes:
        return f"its {kind} file {f.file} has {len(data)} bytes, its commit record says {f.bytes}"
    if f.sha256 is not None and hashlib.sha256(data).hexdigest() != f.sha256:
        return f"its {kind} file {f.file} differs from its commit record (sha256)"
    try:
        rows = pq.read_metadata(io.BytesIO(data)).num_rows
    except (pa.ArrowException, OSError) as error:
        return f"its {kind} file {f.file} is not readable Parquet ({error})"
    if rows != f.rows:
        return f"its {kind} file {f.file} has {rows} rows, its commit record says {f.rows}"
    return None


@dataclass
class Audit:
    """A whole run checked against its index: what can be trusted and what cannot."""

    ok: list[str] = field(default_factory=list)
    damaged: dict[str, str] = field(default_factory=dict)
    """Shard id -> why its committed files cannot be trusted."""
    foreign: list[str] = field(default_factory=list)
    """Records of another run, or outside the plan, or unreadable."""
    missing: list[str] = field(default_factory=list)
    """Planned shards without a commit record (not played yet, or their record was lost)."""
    uncommitted: list[str] = field(default_factory=list)
    """Data files no record names: abandoned writes, never read; a re-run deletes them."""

    @property
    def clean(self) -> bool:
        """Every committed shard verifies and nothing foreign sits in the index."""
        return not self.damaged and not self.foreign


def audit(location: Location, manifest: Manifest, verify: bool = True, deep: bool = True) -> Audit:
    """Check every shard of the run: records against the plan and run id, files against their
    records (``deep``: read each file and compare its sha256; else sizes from a listing)."""
    result = Audit()
    records, unreadable = read_records(location)
    planned = planned_shard_ids(manifest)
    for path, why in unreadable.items():
        result.foreign.append(f"{path}: unreadable commit record ({why})")
        shard_id = shard_of_record(path)
        if planned is None or shard_id in planned:
            result.damaged[shard_id] = f"its commit record is unreadable ({why})"
    sizes = {**location.files(EPISODES), **location.files(STEPS)}
    named: set[str] = set()
    for shard_id, record in sorted(records.items()):
        if record.run_id != manifest.run_id:
            result.foreign.append(
                f"{shard_id}: commit record of another run ({record.run_id}); a re-run replaces it"
            )
            if planned is None or shard_id in planned:
                result.damaged[shard_id] = f"its commit record belongs to run {record.run_id}"
            continue
        if planned is not None and shard_id not in planned:
            result.foreign.append(f"{shard_id}: not a shard of this run's plan")
            continue
        named.update(f.file for f in record.files().values())
        problem = shard_problem(location, record, sizes, verify and deep)
        if problem:
            result.damaged[shard_id] = problem
        else:
            result.ok.append(shard_id)
    if planned is not None:
        result.missing = [s for s in planned if s not in records and s not in result.damaged]
    result.uncommitted = sorted(path for path in sizes if path not in named)
    return result


def shard_problem(
    location: Location, record: ShardRecord, sizes: dict[str, int], deep: bool
) -> str | None:
    """Why a shard of this run cannot be trusted, or None."""
    for kind in KINDS:
        problem = file_problem(record, kind, sizes)
        if problem is None and deep:
            try:
                data = location.read_bytes(record.files()[kind].file)
            except FileNotFoundError:
                problem = f"its {kind} file {record.files()[kind].file} is missing"
            else:
                problem = content_problem(record, kind, data)
        if problem:
            return problem
    return None


def read_shard_file(location: Location, record: ShardRecord, kind: str, verify: bool) -> pa.Table:
    """One committed file as a table; `RunDamaged` naming the shard when it does not verify."""
    f = record.files()[kind]
    try:
        data = location.read_bytes(f.file)
    except FileNotFoundError:
        data = None
    problem = (
        f"its {kind} file {f.file} is missing"
        if data is None
        else content_problem(record, kind, data)
        if verify
        else None
    )
    if problem is None:
        try:
            return pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError) as error:
            problem = f"its {kind} file {f.file} is not readable Parquet ({error})"
    raise RunDamaged(
        f"{location.name()}: shard {record.shard_id} is damaged: {problem}; "
        f"`mercato verify {location.uri}` lists every problem, and re-running the experiment "
        "into it replays the damaged shards"
    )
