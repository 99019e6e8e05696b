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

import hashlib
import importlib
import importlib.util
import inspect
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import pettingzoo
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from agents.registry import list_policies, policy_info
from envs.core.names import role_of
from envs.core.params import Params
from envs.core.registry import list_envs
from envs.core.seeding import derive_seed
from sim.llm.spec import BACKENDS, SPEC_FORMS, WRAPPER_KEYS, backend_class, parse_spec
from sim.records import to_json

REQUIRED = inspect.Parameter.empty
"""The default `env_parameters` reports for a parameter the env requires."""


class ExperimentError(ValueError):
    """An invalid experiment; the message is one line that names the field path."""


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


class RosterEntry(BaseModel):
    """Who plays an agent (or every agent of a role): a registered policy and its settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str
    """A registered policy name (``random``, ``llm``, ``bargaining/equilibrium``, ...)."""
    model: str | None = None
    """A key of ``models`` or an inline spec; required by policies that take a model."""
    role_prompt: str | None = None
    options: dict[str, Any] = {}
    """Passed to the policy's factory; names checked against its options."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"policy": data} if isinstance(data, str) else data


Roster = dict[str, RosterEntry]
_ROSTER = TypeAdapter(Roster)


@dataclass(frozen=True)
class Cell:
    """One point of the design: full constructor kwargs and a player for every agent."""

    cell_id: str
    index: int
    params: dict[str, Any]
    roster: dict[str, RosterEntry]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (for the manifest)."""
        return {
            "cell_id": self.cell_id,
            "params": orjson.loads(to_json(self.params)),
            "roster": {agent: e.model_dump(mode="json") for agent, e in self.roster.items()},
        }


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
            self._plan = _plan_cells(self)
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
        data, stem = _read_yaml(Path(source)), Path(source).stem
    data.setdefault("name", stem)
    _import_modules(data.get("imports", []))
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as error:
        raise ExperimentError(_describe_validation_error(error)) from None
    experiment.cells()
    return experiment


def _import_modules(modules: Any) -> None:
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ExperimentError("imports: expected a list of module names")
    for i, module in enumerate(modules):
        try:
            importlib.import_module(module)
        except Exception as error:
            raise ExperimentError(
                f"imports[{i}]: cannot import {module!r}: {_one_line(str(error))}"
            ) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no such file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ExperimentError(f"{path.name}: invalid YAML{where}: {_one_line(problem)}") from None
    if not isinstance(data, dict):
        raise ExperimentError(
            f"{path.name}: expected a mapping of experiment fields, got {type(data).__name__}"
        )
    return data


def _describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """The first pydantic error as ``field.path: what is wrong``."""
    first = error.errors()[0]
    path = _field_path(first["loc"], prefix)
    kind = first["type"]
    if kind == "missing":
        return f"{path}: required field is missing"
    if kind == "extra_forbidden":
        owner = Experiment if len(first["loc"]) == 1 and not prefix else RosterEntry
        fields = sorted(f.alias or name for name, f in owner.model_fields.items())
        return f"{path}: unknown field; allowed: {fields}"
    if kind == "value_error":
        message = _one_line(str(first["ctx"]["error"]))
        return message if path == "experiment" else f"{path}: {message}"
    return f"{path}: {first['input']!r} is invalid: {_one_line(first['msg'])}"


_UNION_TAG = re.compile(r"constrained-\w+|\w+\[.*\]|float|int|str")


def _field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """``("grid", "x", 2)`` -> ``grid.x[2]``."""
    path = prefix
    for part in loc:
        if isinstance(part, str) and _UNION_TAG.fullmatch(part):
            continue  # pydantic names the union member it tried (constrained-float, dict[...])
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "experiment"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- environments ---


@dataclass(frozen=True)
class _EnvTarget:
    """A registered env: how to make it and which constructor parameters it takes."""

    env_id: str
    make: Callable[..., Any]
    defaults: dict[str, Any]
    open_ended: bool  # takes **kwargs, so unknown names cannot be refused up front


def _load_registries() -> None:
    """`import envs` registers the envs; env families' scripted players live in agents.scripted
    and simulated people in agents.users."""
    import envs  # noqa: F401

    for package in ("agents.scripted", "agents.users"):
        if importlib.util.find_spec(package) is not None:
            importlib.import_module(package)


def _env_target(env_id: str) -> _EnvTarget:
    for registry in (pettingzoo.aec_registry, pettingzoo.parallel_registry):
        if env_id in registry:
            spec = registry[env_id]
            break
    else:
        known = sorted({info.id for info in list_envs()})
        raise ExperimentError(f"env: {env_id!r} is not registered; registered: {known}")
    declared = _declared_params(env_id)
    if declared is not None:  # the env's Params class: no env built to read defaults
        defaults, open_ended = {"render_mode": None, **declared.defaults()}, False
    else:  # an env registered without a spec: read its constructor's signature
        defaults, open_ended = _signature_defaults(spec)
    if spec.max_cycles is not None:
        defaults["max_cycles"] = spec.max_cycles
    defaults.update(spec.kwargs)
    return _EnvTarget(env_id, spec.make, defaults, open_ended)


def _declared_params(env_id: str) -> type[Params] | None:
    """The `Params` class the env's spec declares, if any."""
    for info in list_envs():
        if info.id == env_id and info.params is not None:
            return info.params
    return None


def _signature_defaults(spec: Any) -> tuple[dict[str, Any], bool]:
    """Defaults read from a spec-less env's constructor, and whether it takes ``**kwargs``."""
    creator = spec.entry_point
    if isinstance(creator, str):
        module, _, attr = creator.partition(":")
        creator = getattr(importlib.import_module(module), attr)
    named, open_ended = _named_parameters(creator)
    if not named and open_ended:  # a factory like `env(**kwargs)`: read the env class instead
        made = spec.make()
        named, open_ended = _named_parameters(type(made.unwrapped))
        made.close()
    return {name: p.default for name, p in named.items()}, open_ended


def _named_parameters(creator: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], bool]:
    params = inspect.signature(creator).parameters
    named = {
        name: p
        for name, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"
    }
    return named, any(p.kind is p.VAR_KEYWORD for p in params.values())


def env_parameters(env_id: str) -> dict[str, Any]:
    """A registered env's constructor parameters and their defaults (`REQUIRED` if none)."""
    _load_registries()
    return dict(_env_target(env_id).defaults)


# --- cells ---


@dataclass(frozen=True)
class _Draft:
    """A cell before its env is built: params, where each set value came from, roster override."""

    path: str
    params: dict[str, Any]
    sources: dict[str, str]
    roster: Roster


def _plan_cells(experiment: Experiment) -> list[Cell]:
    _load_registries()
    target = _env_target(experiment.env)
    _check_parameter_names(experiment, target)
    _check_roster(experiment, experiment.roster, "roster")
    drafts = _drafts(experiment, target)
    width = max(3, len(str(len(drafts) - 1)))
    cell_ids = [f"c{i:0{width}d}" for i in range(len(drafts))]
    agents = [_agents_of(target, d, c) for d, c in zip(drafts, cell_ids, strict=True)]
    _check_roster_keys(experiment.env, "roster", experiment.roster, sorted(set().union(*agents)))
    cells = []
    for index, (draft, cell_id, names) in enumerate(zip(drafts, cell_ids, agents, strict=True)):
        _check_roster_keys(experiment.env, f"{draft.path}.roster", draft.roster, names)
        roster = _resolve_roster(cell_id, names, (draft.roster, experiment.roster))
        cells.append(Cell(cell_id, index, draft.params, roster))
    return cells


def _check_parameter_names(experiment: Experiment, target: _EnvTarget) -> None:
    places = [("params", experiment.params), ("grid", experiment.grid)]
    places += [
        (f"cells[{j}]", {k: v for k, v in cell.items() if k != "roster"})
        for j, cell in enumerate(experiment.extra_cells)
    ]
    for where, values in places:
        for name in values:
            if name not in target.defaults and not target.open_ended:
                raise ExperimentError(
                    f"{where}.{name}: unknown parameter of {target.env_id}; "
                    f"parameters: {sorted(target.defaults)}"
                )
    for name in experiment.grid:
        if name in experiment.params:
            raise ExperimentError(
                f"grid.{name}: also set in params; a parameter is either fixed (params) or "
                "varied (grid)"
            )


def _drafts(experiment: Experiment, target: _EnvTarget) -> list[_Draft]:
    base = {**target.defaults, **experiment.params}
    base_sources = {name: f"params.{name}" for name in experiment.params}
    drafts = []
    names = list(experiment.grid)
    for point in itertools.product(*(enumerate(experiment.grid[n]) for n in names)):
        values = {name: value for name, (_, value) in zip(names, point, strict=True)}
        sources = {name: f"grid.{name}[{i}]" for name, (i, _) in zip(names, point, strict=True)}
        drafts.append(_Draft("grid", {**base, **values}, {**base_sources, **sources}, {}))
    for j, extra in enumerate(experiment.extra_cells):
        path = f"cells[{j}]"
        overrides = {k: v for k, v in extra.items() if k != "roster"}
        try:
            roster = _ROSTER.validate_python(extra.get("roster", {}))
        except ValidationError as error:
            raise ExperimentError(_describe_validation_error(error, f"{path}.roster")) from None
        _check_roster(experiment, roster, f"{path}.roster")
        sources = {**base_sources, **{name: f"{path}.{name}" for name in overrides}}
        drafts.append(_Draft(path, {**base, **overrides}, sources, roster))
    return drafts


def _agents_of(target: _EnvTarget, draft: _Draft, cell_id: str) -> list[str]:
    """Build the cell's env once: bad values fail here, with the field that set them."""
    missing = sorted(n for n, v in draft.params.items() if v is REQUIRED)
    if missing:
        raise ExperimentError(f"params: {target.env_id} requires parameter(s) {missing}")
    try:
        env = target.make(**draft.params)
    except (TypeError, ValueError) as error:
        raise ExperimentError(_blame(draft, cell_id, _one_line(str(error)))) from None
    try:
        return list(env.possible_agents)
    finally:
        env.close()


_SOURCE_ORDER = ("cells", "grid", "params")  # most specific first


def _source_rank(source: str) -> int:
    return next(i for i, root in enumerate(_SOURCE_ORDER) if source.startswith(root))


def _blame(draft: _Draft, cell_id: str, message: str) -> str:
    """Name the most specific field the env's error mentions, else the cell."""
    mentioned = [name for name in draft.sources if re.search(rf"\b{re.escape(name)}\b", message)]
    if mentioned:
        name = min(mentioned, key=lambda n: _source_rank(draft.sources[n]))
        return f"{draft.sources[name]}: {draft.params[name]!r} is invalid: {message}"
    setting = ", ".join(f"{n}={draft.params[n]!r}" for n in draft.sources)
    return f"{draft.path}: cell {cell_id} ({setting}) is invalid: {message}"


def _check_roster(experiment: Experiment, roster: Roster, path: str) -> None:
    """Each entry names a policy that plays this env, with the settings that policy takes."""
    for key, entry in roster.items():
        where = f"{path}.{key}"
        try:
            info = policy_info(entry.policy, experiment.env)
        except ValueError:
            valid = sorted(p.name for p in list_policies(experiment.env))
            raise ExperimentError(
                f"{where}.policy: {entry.policy!r} is unknown; valid: {valid}"
            ) from None
        factory = inspect.signature(info.factory).parameters
        takes = set(info.options)
        if "model" in takes:
            _check_roster_model(experiment, entry, where, factory["model"].default is REQUIRED)
        elif entry.model is not None:
            raise ExperimentError(f"{where}.model: policy {entry.policy!r} takes no model")
        if entry.role_prompt is not None and "role_prompt" not in takes:
            raise ExperimentError(
                f"{where}.role_prompt: policy {entry.policy!r} takes no role prompt"
            )
        allowed = [o for o in info.options if o not in ("model", "role_prompt")]
        unknown = sorted(set(entry.options) - set(allowed))
        if unknown:
            raise ExperimentError(
                f"{where}.options: unknown option(s) {unknown} for policy {entry.policy!r}; "
                f"allowed: {allowed}"
            )
        needed = [o for o in allowed if factory[o].default is REQUIRED and o not in entry.options]
        if needed:
            raise ExperimentError(
                f"{where}.options: policy {entry.policy!r} needs option(s) {needed}"
            )


def _check_roster_model(
    experiment: Experiment, entry: RosterEntry, where: str, required: bool
) -> None:
    names = sorted(experiment.models)
    if entry.model is None:
        if required:
            raise ExperimentError(
                f"{where}.model: policy {entry.policy!r} needs a model: a key of models "
                f"({names}) or a spec ({', '.join(SPEC_FORMS)})"
            )
        return
    if entry.model in experiment.models:
        return
    try:
        parse_spec(entry.model)
    except ValueError as error:
        raise ExperimentError(
            f"{where}.model: {entry.model!r} is neither a key of models ({names}) nor a model "
            f"spec: {error}"
        ) from None


def _check_roster_keys(env_id: str, path: str, roster: Roster, agents: list[str]) -> None:
    roles = sorted({role_of(agent) for agent in agents})
    for key in roster:
        if key not in agents and key not in roles:
            raise ExperimentError(
                f"{path}.{key}: no such agent or role in {env_id}; agents: {agents}; roles: {roles}"
            )


def _resolve_roster(
    cell_id: str, agents: list[str], layers: tuple[Roster, ...]
) -> dict[str, RosterEntry]:
    """Each agent's player: per layer (cell, then top level), by agent name, then by role."""
    resolved: dict[str, RosterEntry] = {}
    for agent in agents:
        for layer in layers:
            entry = layer.get(agent, layer.get(role_of(agent)))
            if entry is not None:
                resolved[agent] = entry
                break
    uncovered = [agent for agent in agents if agent not in resolved]
    if uncovered:
        roles = sorted({role_of(agent) for agent in uncovered})
        raise ExperimentError(
            f"roster: no player for agent(s) {uncovered} in cell {cell_id}; add roster entries "
            f"by agent name or by role ({roles})"
        )
    return resolved
