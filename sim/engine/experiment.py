"""Experiments: a YAML file (or a dict) -> a validated `Experiment` -> cells x episodes -> shards.

Validation is strict and happens before anything runs: every failure is one `ExperimentError`
line naming the field path and what is allowed. No model is built and no episode is played, but
each cell's env is constructed once (cheap), so impossible parameter values fail here too.

Fields (``extra`` keys are refused everywhere)::

    name: quickstart              # default: the file's stem
    imports: [my_project.envs]    # modules that register your own envs and policies
    env: mercato/Bargaining-v0    # a registered PettingZoo id
    params: {max_rounds: 5}       # fixed constructor kwargs
    grid:                         # varied: the cartesian product, last key fastest
      discount_alice: [0.5, 0.9]
    models: {smol: local}         # named model specs (strings or dicts, as `make_model` takes)
    roster:                       # who plays: by agent name (alice_0) or role (alice)
      alice: bargaining/equilibrium             # shorthand for {policy: ...}
      bob: {policy: llm, model: smol, role_prompt: "You are Bob."}
    cells:                        # extra cells after the grid
      - {discount_alice: 0.7, roster: {bob_0: random}}
    episodes: 100                 # per cell
    seed: 0
    shard_size: 50                # episodes per shard (the unit of work, retry and resume)
    lockstep: 32                  # env instances a worker plays in lockstep
    max_fallback_rate: 0.5        # per model: above this share of LLM decisions reached by
                                  # constrained choice or the safe default, the run is `failed`
                                  # (a number for every model, or {model_key: number})
    price_per_1k:                 # optional, per key of models: cost of 1k billed tokens
      smol: {prompt: 0.0, completion: 0.0}

A parameter is either fixed (``params``) or varied (``grid``), never both. Each extra cell is a
mapping of parameter overrides plus an optional ``roster`` override; it starts from ``params`` and
the env's defaults, not from any grid point, so it names every grid parameter it fixes. An agent's
player is the first match of: the cell's roster by agent name, then by role, then the top-level
roster by agent name, then by role.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from envs.core.seeding import derive_seed
from sim.engine.cells import (
    REQUIRED,
    Cell,
    ExperimentError,
    Roster,
    describe_validation_error,
    one_line,
    plan_cells,
)
from sim.llm.spec import BACKENDS, SPEC_FORMS, WRAPPER_KEYS, backend_class, parse_spec

# --- model specs ---


def _check_model_spec(spec: Any) -> Any:
    """Check a model spec's form and fields without building the model (nor importing torch)."""
    if isinstance(spec, str):
        parse_spec(spec)
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"expected a spec string ({', '.join(SPEC_FORMS)}) or a mapping with 'backend', "
            f"got {type(spec).__name__}"
        )
    backend = spec.get("backend")
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is unknown; valid backends: {sorted(BACKENDS)}")
    init = inspect.signature(backend_class(backend).__init__).parameters
    arguments = {name: p for name, p in init.items() if name != "self"}
    allowed = sorted({"backend", *arguments, *WRAPPER_KEYS})
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} for backend {backend!r}; allowed: {allowed}")
    missing = [name for name, p in arguments.items() if p.default is REQUIRED and name not in spec]
    if missing:
        raise ValueError(f"backend {backend!r} needs field(s) {missing}")
    return spec


ModelSpec = Annotated[str | dict[str, Any], BeforeValidator(_check_model_spec)]


# --- the file's structure ---


class TokenPrice(BaseModel):
    """What 1,000 billed tokens of one model cost (any currency, the same for every model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


def _check_fallback_rate(value: Any) -> Any:
    """A share in [0, 1], or a mapping of model keys to such shares."""
    values = value.values() if isinstance(value, Mapping) else [value]
    for rate in values:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError(
                f"expected a share in [0, 1] or a mapping of model keys to shares, got {value!r}"
            )
    return dict(value) if isinstance(value, Mapping) else float(value)


FallbackRate = Annotated[float | dict[str, float], BeforeValidator(_check_fallback_rate)]


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to play; its seed depends only on the experiment seed, cell and index."""

    cell_id: str
    episode_index: int
    episode_id: str
    seed: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Shard:
    """A fixed slice of the episode plan: the unit of work, retry and resume."""

    shard_id: str
    episodes: tuple[EpisodeSpec, ...]


class Experiment(BaseModel):
    """A validated experiment; build it with `load_experiment` (which checks everything)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "experiment"
    imports: list[str] = []
    """Modules imported first (on the driver and every worker): how your own envs and policies
    register themselves."""
    env: str
    params: dict[str, Any] = {}
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    roster: Roster
    models: dict[str, ModelSpec] = {}
    episodes: int = Field(ge=1)
    seed: int = 0
    shard_size: int = Field(50, ge=1)
    lockstep: int = Field(32, ge=1)
    temperature: float | None = Field(None, ge=0)
    """Sampling temperature of every LLM player whose roster entry sets none (None: the players'
    default, 0.7; 0 is greedy, which makes the episodes of a deterministic cell copies)."""
    max_fallback_rate: FallbackRate = 0.5
    """Per model: the largest share of LLM decisions that may fall back (constrained choice or
    the safe default) before the run ends ``failed``; one number, or one per key of ``models``."""
    price_per_1k: dict[str, TokenPrice] = {}
    """Per key of ``models``: the price of 1k prompt and completion tokens (episodes get a cost)."""
    extra_cells: list[dict[str, Any]] = Field([], alias="cells")
    """The YAML key ``cells``: parameter overrides plus an optional ``roster``, after the grid."""

    _plan: list[Cell] | None = PrivateAttr(None)

    def cells(self) -> list[Cell]:
        """Grid cells in cartesian order (last grid key fastest), then the extra cells."""
        if self._plan is None:
            self._plan = plan_cells(self)
        return list(self._plan)

    def episode_specs(self) -> list[EpisodeSpec]:
        """Every episode, cell by cell; seeds do not depend on sharding or worker count."""
        width = max(5, len(str(self.episodes - 1)))
        return [
            EpisodeSpec(
                cell.cell_id,
                index,
                f"{cell.cell_id}-e{index:0{width}d}",
                derive_seed(self.seed, cell.cell_id, index),
                cell.params,
            )
            for cell in self.cells()
            for index in range(self.episodes)
        ]

    def shards(self) -> list[Shard]:
        """The episode plan cut into consecutive shards of ``shard_size`` episodes."""
        specs = self.episode_specs()
        starts = range(0, len(specs), self.shard_size)
        width = max(5, len(str(len(starts) - 1)))
        return [
            Shard(f"s{n:0{width}d}", tuple(specs[start : start + self.shard_size]))
            for n, start in enumerate(starts)
        ]

    @model_validator(mode="after")
    def _model_keys_known(self) -> Experiment:
        for field_name in ("price_per_1k", "max_fallback_rate"):
            value = getattr(self, field_name)
            unknown = sorted(set(value) - set(self.models)) if isinstance(value, dict) else []
            if unknown:
                raise ValueError(
                    f"{field_name}: unknown model(s) {unknown}; keys of models: "
                    f"{sorted(self.models)}"
                )
        return self

    def fallback_limit(self, model_key: str) -> float:
        """The ``max_fallback_rate`` that applies to ``model_key``."""
        limit = self.max_fallback_rate
        return limit.get(model_key, 0.5) if isinstance(limit, dict) else limit

    def prices(self) -> dict[str, tuple[float, float]]:
        """Model key -> (prompt, completion) price per 1k tokens."""
        return {key: (p.prompt, p.completion) for key, p in self.price_per_1k.items()}

    def resolve_model(self, model: str) -> str | dict[str, Any]:
        """The spec a roster's ``model`` names: a key of ``models``, else the inline spec itself."""
        return self.models.get(model, model)

    def resolved(self) -> dict[str, Any]:
        """Every field, defaults filled in, as JSON-able data; `load_experiment` takes it back.

        Model specs appear as written: they name environment variables, never key values.
        """
        return self.model_dump(mode="json", by_alias=True)

    def fingerprint(self) -> str:
        """sha256 of the resolved experiment and its cells: equal iff the same episodes are due."""
        data = {"experiment": self.resolved(), "cells": [c.as_dict() for c in self.cells()]}
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


# --- loading ---


def load_experiment(source: str | Path | Mapping[str, Any]) -> Experiment:
    """Read and fully validate an experiment from a YAML path or a mapping."""
    if isinstance(source, Mapping):
        data, stem = dict(source), "experiment"
    else:
        data, stem = read_yaml_mapping(Path(source)), Path(source).stem
    data.setdefault("name", stem)
    _refuse_unknown_keys(data)
    _import_modules(data.get("imports", []))
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as error:
        raise ExperimentError(describe_validation_error(error, top=Experiment)) from None
    experiment.cells()
    return experiment


def _refuse_unknown_keys(data: Mapping[str, Any]) -> None:
    """An unknown top-level key is named first (a misspelt ``episode`` would otherwise read as
    ``episodes`` missing), with the field it most likely means."""
    fields = sorted(f.alias or name for name, f in Experiment.model_fields.items())
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ExperimentError(f"{key}: unknown field; allowed: {fields}{hint}")


def _import_modules(modules: Any) -> None:
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ExperimentError("imports: expected a list of module names")
    for i, module in enumerate(modules):
        try:
            importlib.import_module(module)
        except Exception as error:
            raise ExperimentError(
                f"imports[{i}]: cannot import {module!r}: {one_line(str(error))}"
            ) from None


def read_yaml_mapping(path: Path, what: str = "experiment fields") -> dict[str, Any]:
    """A YAML file that holds a mapping (of ``what``), or one `ExperimentError` line why not."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no such file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ExperimentError(f"{path.name}: invalid YAML{where}: {one_line(problem)}") from None
    if not isinstance(data, dict):
        raise ExperimentError(
            f"{path.name}: expected a mapping of {what}, got {type(data).__name__}"
        )
    return data
