"""Run directories: a manifest plus each shard's episodes and steps as Parquet files.

``RUN/manifest.json``, ``RUN/episodes/<shard_id>.parquet``, ``RUN/steps/<shard_id>.parquet``;
``mercato report`` adds ``RUN/report.csv`` and ``RUN/plots/``. A shard is done iff its episodes
file exists. Every file is written to ``*.tmp`` and renamed into place, steps before episodes, so a
crash never leaves a half-written shard that counts as done. Schemas: docs/run-directory.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any
from uuid import uuid4

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.experiment import Experiment
from sim.records import EpisodeRecord, StepColumns, to_json

MANIFEST = "manifest.json"
EPISODES = "episodes"
STEPS = "steps"
VERSIONED_PACKAGES = (
    "mercato",
    "torch",
    "transformers",
    "ray",
    "pettingzoo",
    "gymnasium",
    "pyarrow",
)

_TEXT, _INT, _FLOAT, _BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()

STEP_SCHEMA = pa.schema(
    [
        ("episode_id", _TEXT),
        ("step", _INT),
        ("agent", _TEXT),
        ("role", _TEXT),
        ("observation", _TEXT),
        ("observation_text", _TEXT),
        ("action", _TEXT),
        ("message", _TEXT),
        ("reward", _FLOAT),
        ("terminated", _BOOL),
        ("truncated", _BOOL),
        ("info", _TEXT),
        ("policy", _TEXT),
        ("prompt", _TEXT),
        ("reply", _TEXT),
        ("parse_status", _TEXT),
        ("retries", _INT),
        ("fallback", _TEXT),
        ("llm_prompt_tokens", _INT),
        ("llm_completion_tokens", _INT),
        ("model", _TEXT),
        ("llm_requests", _INT),
        ("llm_failed_requests", _INT),
        ("llm_failures", _TEXT),
        ("llm_latency_s", _FLOAT),
        ("llm_structured", _TEXT),
        ("choice_options", _TEXT),
        ("choice_method", _TEXT),
        ("choice_raw", _TEXT),
        ("choice_scores", _TEXT),
    ]
)
"""The steps table: `sim.records.STEP_COLUMNS` with fixed types, so every shard agrees."""

_EPISODE_HEAD = pa.schema(
    [
        ("run_id", _TEXT),
        ("cell_id", _TEXT),
        ("episode_id", _TEXT),
        ("episode_index", _INT),
        ("env_id", _TEXT),
        ("seed", _INT),
        ("roster", _TEXT),
    ]
)
_EPISODE_TAIL = pa.schema(
    [
        ("steps", _INT),
        ("trace", _TEXT),
        ("llm_calls", _INT),
        ("llm_tokens", _INT),
        ("errors", _INT),
        ("wall_s", _FLOAT),
        ("llm_decisions", _INT),
        ("llm_parsed", _INT),
        ("llm_reasked", _INT),
        ("llm_choice", _INT),
        ("llm_default", _INT),
        ("llm_requests", _INT),
        ("llm_failed_requests", _INT),
        ("llm_prompt_tokens", _INT),
        ("llm_completion_tokens", _INT),
        ("llm_cost", _FLOAT),
        ("llm_by_model", _TEXT),
    ]
)
"""``trace`` fingerprints what happened (every step's agent, observation, action and reward;
null when steps were not recorded): episodes of a cell with one trace are copies of one sample.
Costs: ``llm_calls`` counts every model request sent (HTTP attempts included), ``llm_tokens``
billed tokens, ``errors`` failed model requests; then the LLM decisions by path, and the same per
model key as JSON (``llm_by_model``)."""


@dataclass
class RunDir:
    """A run directory made by `open_run`: which shards are done, shard writes, manifest updates.

    ``RunDir(path)`` reopens one anywhere the path is visible (e.g. in a Ray worker).
    """

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.path)

    @cached_property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    @cached_property
    def _table_layout(self) -> tuple[dict[str, pa.DataType], tuple[str, ...]]:
        return _layout(self.manifest)

    def done_shards(self) -> set[str]:
        """Ids of shards whose episodes file exists (``*.tmp`` leftovers do not count), less those
        the manifest marks for replay (their LLM decisions fell back too often)."""
        return _trusted(self.path, self.manifest)

    def write_shard(self, shard_id: str, episodes: list[EpisodeRecord], steps: StepColumns) -> None:
        """Write a finished shard atomically: its steps first, its episodes (the done mark) last."""
        _write_atomic(_steps_table(steps), self.path / STEPS / f"{shard_id}.parquet")
        table = _episodes_table(episodes, *self._table_layout)
        _write_atomic(table, self.path / EPISODES / f"{shard_id}.parquet")

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` (status, timings, counts) into the manifest, atomically."""
        manifest = {**self.manifest, **fields, "updated": _now()}
        _write_text_atomic(json.dumps(manifest, indent=2), self.path / MANIFEST)
        return manifest


def open_run(out: str | os.PathLike[str], experiment: Experiment, fresh: bool = False) -> RunDir:
    """Create ``out`` for ``experiment``, or reopen it to resume the same experiment.

    A directory holding another experiment is refused unless ``fresh`` (which deletes it first).
    A non-empty directory that is not a run directory is never deleted.
    """
    path = Path(out)
    fingerprint = experiment.fingerprint()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a directory; choose another --out")
    if (path / MANIFEST).exists():
        if not fresh:
            return _resume(path, fingerprint)
        shutil.rmtree(path)
    elif path.exists() and any(path.iterdir()):
        raise ValueError(
            f"{path}: not empty and not a run directory (no {MANIFEST}); choose another --out"
        )
    for folder in (path / EPISODES, path / STEPS):
        folder.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    cells = [cell.as_dict() for cell in experiment.cells()]
    manifest = {
        "run_id": f"{experiment.name}-{created:%Y%m%dT%H%M%SZ}-{uuid4().hex[:6]}",
        "name": experiment.name,
        "env": experiment.env,
        "fingerprint": fingerprint,
        "seed": experiment.seed,
        "status": "running",
        "created": created.isoformat(timespec="seconds"),
        "updated": created.isoformat(timespec="seconds"),
        "plan": {
            "cells": len(cells),
            "episodes": len(cells) * experiment.episodes,
            "shards": len(experiment.shards()),
        },
        "versions": package_versions(),
        "git_commit": git_commit(),
        "experiment": experiment.resolved(),
        "cells": cells,
    }
    _write_text_atomic(json.dumps(manifest, indent=2), path / MANIFEST)
    return RunDir(path)


def pending_shards(path: str | os.PathLike[str], experiment: Experiment, fresh: bool) -> bool:
    """Whether `open_run` on ``path`` would leave shards to play (a read-only look)."""
    path = Path(path)
    if fresh or not (path / MANIFEST).exists():
        return True
    try:
        manifest = read_manifest(path)
    except ValueError:
        return True
    if manifest.get("fingerprint") != experiment.fingerprint():
        return True  # open_run decides (it refuses another experiment's directory)
    done = _trusted(path, manifest)
    return any(shard.shard_id not in done for shard in experiment.shards())


def create_run(
    out: str | os.PathLike[str], manifest_fields: dict[str, Any], fresh: bool = False
) -> RunDir:
    """Create a run directory without an `Experiment` (e.g. for imported data).

    ``manifest_fields`` must hold ``run_id``, ``name`` and ``cells`` (each cell's ``cell_id``,
    ``params`` and ``roster``: what the episodes writer's `_layout` needs); ``status``
    (``running``), ``created``, ``updated``, ``versions`` and ``git_commit`` are filled in unless
    given. An existing directory is refused unless it is empty, or a run directory and ``fresh``.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a directory; choose another --out")
    if (path / MANIFEST).exists() and fresh:
        shutil.rmtree(path)
    elif path.exists() and any(path.iterdir()):
        raise ValueError(
            f"{path}: not empty; choose another --out (or --fresh for a run directory)"
        )
    missing = [key for key in ("run_id", "name", "cells") if key not in manifest_fields]
    if missing:
        raise ValueError(f"create_run: manifest fields missing {missing}")
    for folder in (path / EPISODES, path / STEPS):
        folder.mkdir(parents=True, exist_ok=True)
    now = _now()
    manifest = {
        "status": "running",
        "created": now,
        "updated": now,
        "versions": package_versions(),
        "git_commit": git_commit(),
        **manifest_fields,
    }
    _write_text_atomic(json.dumps(manifest, indent=2), path / MANIFEST)
    return RunDir(path)


def _resume(path: Path, fingerprint: str) -> RunDir:
    manifest = read_manifest(path)
    if manifest.get("fingerprint") != fingerprint:
        raise ValueError(
            f"{path} holds a run of a different experiment ({manifest.get('name')!r}, "
            f"fingerprint {str(manifest.get('fingerprint'))[:12]}, this one {fingerprint[:12]}); "
            "pass --fresh to replace it or choose another --out"
        )
    run = RunDir(path)
    run.update_manifest(status="running")
    return run


def _layout(manifest: dict[str, Any]) -> tuple[dict[str, pa.DataType], tuple[str, ...]]:
    """Parameter column types and agent names, from the manifest's resolved cells."""
    cells = manifest["cells"]
    agents = tuple(sorted({agent for cell in cells for agent in cell["roster"]}))
    return _param_types([cell["params"] for cell in cells]), agents


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of ``run_dir``, or a ValueError saying it is not a run directory."""
    path = Path(run_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{Path(run_dir)}: not a run directory (no {MANIFEST})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: unreadable ({error}); pass --fresh to start over") from None


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


# --- tables ---


def _param_types(settings: list[dict[str, Any]]) -> dict[str, pa.DataType]:
    """One Arrow type per parameter from its values in every cell: the same in every shard.

    Scalars keep their type; lists, mappings and mixed types are stored as JSON text.
    """
    names = dict.fromkeys(name for params in settings for name in params)
    types = {}
    for name in names:
        values = [params.get(name) for params in settings]
        try:
            kind = pa.array(values).type
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            kind = None
        scalar = kind is not None and (
            pa.types.is_null(kind) or pa.types.is_primitive(kind) or pa.types.is_string(kind)
        )
        types[name] = kind if scalar else _TEXT
    return types


def _param_array(values: list[Any], kind: pa.DataType) -> pa.Array:
    if kind == _TEXT:
        values = [v if v is None or isinstance(v, str) else to_json(v) for v in values]
    return pa.array(values, type=kind)


def _number(column: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{column}: expected a number, got {value!r}") from None


def _episodes_table(
    records: list[EpisodeRecord], param_types: dict[str, pa.DataType], agents: tuple[str, ...]
) -> pa.Table:
    head = {
        "run_id": [r.run_id for r in records],
        "cell_id": [r.cell_id for r in records],
        "episode_id": [r.episode_id for r in records],
        "episode_index": [r.episode_index for r in records],
        "env_id": [r.env_id for r in records],
        "seed": [r.seed for r in records],
        "roster": [to_json(r.roster) for r in records],
    }
    arrays = {name: pa.array(head[name], type=_EPISODE_HEAD.field(name).type) for name in head}
    seen = _param_types([r.params for r in records])
    types = {**param_types, **{k: v for k, v in seen.items() if k not in param_types}}
    for name, kind in types.items():
        arrays[f"param_{name}"] = _param_array([r.params.get(name) for r in records], kind)
    for name in sorted({m for r in records for m in r.metrics}):
        values = [_number(f"metric_{name}", r.metrics.get(name)) for r in records]
        arrays[f"metric_{name}"] = pa.array(values, type=_FLOAT)
    for agent in sorted({*agents, *(a for r in records for a in r.returns)}):
        values = [_number(f"return_{agent}", r.returns.get(agent)) for r in records]
        arrays[f"return_{agent}"] = pa.array(values, type=_FLOAT)
    tallies = [_tally_columns(r) for r in records]
    for field in _EPISODE_TAIL:
        if field.name in EpisodeRecord.__dataclass_fields__:
            values = [getattr(r, field.name) for r in records]
        else:
            values = [t[field.name] for t in tallies]
        arrays[field.name] = pa.array(values, type=field.type)
    return pa.table(arrays)


def _tally_columns(record: EpisodeRecord) -> dict[str, Any]:
    """The episode's LLM tally columns: totals over its models, and per model as JSON."""
    total = record.llm_totals()
    columns: dict[str, Any] = {f"llm_{name}": value for name, value in total.as_dict().items()}
    columns["llm_by_model"] = (
        to_json({key: tally.as_dict() for key, tally in record.llm.items()}) if record.llm else None
    )
    return columns


def _steps_table(steps: StepColumns) -> pa.Table:
    columns = steps.columns
    arrays = []
    for field in STEP_SCHEMA:
        values = columns[field.name]
        try:
            array = pa.array(values, type=field.type)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            if field.type != _TEXT:
                raise
            # a non-string in a text column (rare): store it as JSON
            array = pa.array(
                [v if v is None or isinstance(v, str) else to_json(v) for v in values],
                type=field.type,
            )
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=STEP_SCHEMA)


def _episodes_base(manifest: dict[str, Any]) -> pa.Schema:
    """The episodes columns known before any episode ends (metrics come with the episodes)."""
    param_types, agents = _layout(manifest)
    params = [(f"param_{name}", kind) for name, kind in param_types.items()]
    returns = [(f"return_{agent}", _FLOAT) for agent in agents]
    return pa.schema([*_EPISODE_HEAD, *params, *returns, *_EPISODE_TAIL])


# --- files ---


def _temporary(path: Path) -> Path:
    """A private ``*.tmp`` name beside ``path``: two writers of one shard (a retried task and a
    straggler) never share a half-written file; the last rename wins, whole."""
    return path.with_name(f"{path.name}.{os.getpid()}.{uuid4().hex[:8]}.tmp")


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = _temporary(path)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _write_text_atomic(text: str, path: Path) -> None:
    tmp = _temporary(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- loading ---


def _nullable_pandas_type(kind: pa.DataType) -> Any:
    """Ints and bools keep their dtype when a column has nulls (numpy would make them float)."""
    return {_INT: pd.Int64Dtype(), _BOOL: pd.BooleanDtype()}.get(kind)


def _read(folder: Path, shard_ids: list[str], base: pa.Schema) -> pd.DataFrame:
    tables = [base.empty_table()]
    tables += [pq.read_table(folder / f"{shard_id}.parquet") for shard_id in shard_ids]
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.to_pandas(types_mapper=_nullable_pandas_type)


def _trusted(run_dir: Path, manifest: dict[str, Any]) -> set[str]:
    """Shards done and not marked for replay (`RunDir.done_shards`)."""
    return set(_done(run_dir)) - set(manifest.get("replay_shards", []))


def _done(run_dir: Path) -> list[str]:
    return sorted(p.name.removesuffix(".parquet") for p in (run_dir / EPISODES).glob("*.parquet"))


def load_episodes(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The episodes table of every finished shard, sorted by (cell_id, episode_index)."""
    path = Path(run_dir)
    frame = _read(path / EPISODES, _done(path), _episodes_base(read_manifest(path)))
    frame = frame[sorted(frame.columns, key=_episode_column_rank)]
    return frame.sort_values(["cell_id", "episode_index"], kind="stable", ignore_index=True)


def _episode_column_rank(column: str) -> int:
    """Column groups in documented order: ids, ``param_*``, ``metric_*``, ``return_*``, costs."""
    if column in _EPISODE_HEAD.names:
        return 0
    prefixes = ("param_", "metric_", "return_")
    return next((1 + i for i, p in enumerate(prefixes) if column.startswith(p)), len(prefixes) + 1)


def load_steps(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The steps table of every finished shard, sorted by (episode_id, step)."""
    path = Path(run_dir)
    read_manifest(path)
    frame = _read(path / STEPS, _done(path), STEP_SCHEMA)
    return frame.sort_values(["episode_id", "step"], kind="stable", ignore_index=True)


def load(run_dir: str | os.PathLike[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(episodes, steps)`` of a run, finished shards only; empty tables with the right columns
    when none has finished."""
    return load_episodes(run_dir), load_steps(run_dir)
