"""From a validated experiment to its cells: each grid point and extra cell becomes full
constructor parameters (the env's `Params` defaults under the experiment's values) and a player
per agent, with every value checked where it was set (one `ExperimentError` line naming the
field path). Also the roster's entries and the errors' wording, shared with `experiment`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import pettingzoo
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, model_validator

from agents.registry import list_policies, policy_info
from agents.roster import check_entry
from envs.core.names import role_of
from envs.core.params import Params
from envs.core.registry import list_envs
from sim.engine.records import to_json

if TYPE_CHECKING:
    from sim.engine.experiment import Experiment

REQUIRED = inspect.Parameter.empty
"""The default `env_parameters` reports for a parameter the env requires."""


class ExperimentError(ValueError):
    """An invalid experiment; the message is one line that names the field path."""


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


def describe_validation_error(
    error: ValidationError, prefix: str = "", top: type[BaseModel] | None = None
) -> str:
    """The first pydantic error as ``field.path: what is wrong`` (``top``: the model validated
    at the top level, whose fields an unknown top-level key is told)."""
    first = error.errors()[0]
    path = _field_path(first["loc"], prefix)
    kind = first["type"]
    if kind == "missing":
        return f"{path}: required field is missing"
    if kind == "extra_forbidden":
        at_top = top is not None and len(first["loc"]) == 1 and not prefix
        owner = top if at_top else RosterEntry
        fields = sorted(f.alias or name for name, f in owner.model_fields.items())
        return f"{path}: unknown field; allowed: {fields}"
    if kind == "value_error":
        message = one_line(str(first["ctx"]["error"]))
        return message if path == "experiment" else f"{path}: {message}"
    return f"{path}: {first['input']!r} is invalid: {one_line(first['msg'])}"


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


def one_line(text: str) -> str:
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


def plan_cells(experiment: Experiment) -> list[Cell]:
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
            raise ExperimentError(describe_validation_error(error, f"{path}.roster")) from None
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
        raise ExperimentError(_blame(draft, cell_id, one_line(str(error)))) from None
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
        try:  # the rules shared with the single-agent views' ``opponents``
            check_entry(entry, info, experiment.models, where)
        except ValueError as error:
            raise ExperimentError(str(error)) from None


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
