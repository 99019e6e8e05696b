"""The tables of a run: the steps and episodes schemas, and records turned into Arrow tables.

Every shard writes the same columns with the same types (parameters typed from every cell of the
plan, one ``return_<agent>`` column per agent of the roster), so shards concatenate without
surprises. Schemas: docs/run-directory.md.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from sim.engine.records import EpisodeRecord, StepColumns, to_json
from sim.store.manifest import Manifest

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
"""The steps table: `sim.engine.records.STEP_COLUMNS` with fixed types, so every shard agrees."""

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


def layout(manifest: Manifest) -> tuple[dict[str, pa.DataType], tuple[str, ...]]:
    """Parameter column types and agent names, from the manifest's resolved cells."""
    cells = manifest.cells
    agents = tuple(sorted({agent for cell in cells for agent in cell["roster"]}))
    return _param_types([cell["params"] for cell in cells]), agents


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


def episodes_table(
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


def steps_table(steps: StepColumns) -> pa.Table:
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


def episodes_base(manifest: Manifest) -> pa.Schema:
    """The episodes columns known before any episode ends (metrics come with the episodes)."""
    param_types, agents = layout(manifest)
    params = [(f"param_{name}", kind) for name, kind in param_types.items()]
    returns = [(f"return_{agent}", _FLOAT) for agent in agents]
    return pa.schema([*_EPISODE_HEAD, *params, *returns, *_EPISODE_TAIL])


def nullable_pandas_type(kind: pa.DataType) -> Any:
    """Ints and bools keep their dtype when a column has nulls (numpy would make them float)."""
    return {_INT: pd.Int64Dtype(), _BOOL: pd.BooleanDtype()}.get(kind)


def episode_column_rank(column: str) -> int:
    """Column groups in documented order: ids, ``param_*``, ``metric_*``, ``return_*``, costs."""
    if column in _EPISODE_HEAD.names:
        return 0
    prefixes = ("param_", "metric_", "return_")
    return next((1 + i for i, p in enumerate(prefixes) if column.startswith(p)), len(prefixes) + 1)
