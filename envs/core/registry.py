"""mercato's environment registry: PettingZoo registration plus a table `mercato envs` can list.

Ids live in PettingZoo's registry under the ``mercato`` namespace, so users create envs with
``pettingzoo.make("aec" | "parallel", "mercato/<Name>-v0")``. PettingZoo keeps one registry per
kind, so the same id may be registered once as ``"aec"`` and once as ``"parallel"``. A Parallel
env registered with ``aec_form=True`` is also made as ``"aec"``, through PettingZoo's
``parallel_to_aec``; its spec stays one entry (its own kind), and `make_env` still makes its own
kind unless asked for ``"aec"``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pettingzoo
from pettingzoo.utils.conversions import parallel_to_aec

from envs.core.params import Params
from envs.core.spec import Outcomes, StudyForm, ViewSpec

NAMESPACE = "mercato"
EnvKind = Literal["aec", "parallel"]
_KINDS: tuple[str, ...] = ("aec", "parallel")
KIND_NAMES = {"aec": "turn-taking (AEC)", "parallel": "simultaneous (Parallel)"}


@dataclass(frozen=True)
class EnvSpec:
    """One registered environment: its whole contract as the layers above read it.

    ``params`` is its `Params` class (defaults, bounds, errors: no env is built to read them);
    ``protocol`` names its text protocol class (``"module:Class"``); ``metrics`` maps each
    metric in ``info["metrics"]`` at the end of an episode to its meaning; ``cost_per`` is the
    (count metric, unit) that model costs are also reported per, ("purchases", "purchase") for
    the market; ``outcomes`` and ``study`` declare hindsight outcomes and a study-form report
    where the reference study has them; ``views`` are its single-agent Gymnasium views with
    their default opponents."""

    id: str
    kind: EnvKind
    family: str
    summary: str
    entry_point: str | Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    params: type[Params] | None = field(default=None, compare=False)
    protocol: str | None = field(default=None, compare=False)
    metrics: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    cost_per: tuple[str, str] | None = field(default=None, compare=False)
    outcomes: Outcomes | None = field(default=None, compare=False)
    study: StudyForm | None = field(default=None, compare=False, hash=False)
    views: tuple[ViewSpec, ...] = field(default=(), compare=False)
    importers: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Log sources it can import: source name -> reader ``"module:function"``, see
    `envs.core.imported` (e.g. ``{"glee": "envs.games.glee_format:read_games"}``)."""
    timeline: str | None = field(default=None, compare=False)
    """``"module:function"``: an episode's step rows (dicts) -> `TimelineEvent` list, the
    family's own timeline (per-customer market events, trial ratings) the studio shows."""
    aec_form: bool = field(default=False, compare=False)
    """A Parallel env also registered as AEC (``parallel_to_aec``), so both make kinds work."""


_REGISTERED: dict[tuple[str, str], EnvSpec] = {}


def parallel_as_aec(entry_point: str | Callable[..., Any], **kwargs: Any) -> Any:
    """The Parallel env ``entry_point`` makes, as an AEC env (PettingZoo's ``parallel_to_aec``)."""
    if isinstance(entry_point, str):
        module, _, attribute = entry_point.partition(":")
        entry_point = getattr(importlib.import_module(module), attribute)
    return parallel_to_aec(entry_point(**kwargs))


def register_env(
    name: str,
    *,
    kind: EnvKind,
    entry_point: str | Callable[..., Any],
    family: str,
    summary: str,
    kwargs: Mapping[str, Any] | None = None,
    params: type[Params] | None = None,
    protocol: str | None = None,
    metrics: Mapping[str, str] | None = None,
    cost_per: tuple[str, str] | None = None,
    outcomes: Outcomes | None = None,
    study: StudyForm | None = None,
    views: tuple[ViewSpec, ...] = (),
    importers: Mapping[str, str] | None = None,
    timeline: str | None = None,
    aec_form: bool = False,
) -> EnvSpec:
    """Register ``mercato/<name>`` with PettingZoo and record its `EnvSpec` for `list_envs`;
    ``aec_form`` (Parallel envs) registers it as AEC too, through ``parallel_to_aec``.

    Registering an id again with the same entry point and kwargs is a no-op (modules may be
    imported twice); a different entry point or kwargs raises ``ValueError``.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    if not name or "/" in name:
        raise ValueError(f"name must be a bare '<Name>-v<N>' without a namespace, got {name!r}")
    if aec_form and kind != "parallel":
        raise ValueError(f"aec_form: only a Parallel env has an AEC form, got kind {kind!r}")
    env_id = f"{NAMESPACE}/{name}"
    info = EnvSpec(
        env_id, kind, family, summary, entry_point, dict(kwargs or {}),
        params=params, protocol=protocol, metrics=dict(metrics or {}), cost_per=cost_per,
        outcomes=outcomes, study=study, views=tuple(views),
        importers=dict(importers or {}), timeline=timeline, aec_form=aec_form,
    )  # fmt: skip
    existing = _REGISTERED.get((kind, env_id))
    if existing is not None:
        if (existing.entry_point, existing.kwargs) != (info.entry_point, info.kwargs):
            raise ValueError(
                f"{env_id!r} ({kind}) is already registered with entry point "
                f"{existing.entry_point!r} and kwargs {dict(existing.kwargs)!r}; "
                f"refusing {info.entry_point!r} with {dict(info.kwargs)!r}"
            )
        return existing
    pettingzoo.register(kind, env_id, entry_point=entry_point, kwargs=dict(info.kwargs))
    if aec_form:
        as_aec = functools.partial(parallel_as_aec, entry_point)
        pettingzoo.register("aec", env_id, entry_point=as_aec, kwargs=dict(info.kwargs))
    _REGISTERED[(kind, env_id)] = info
    return info


def list_envs() -> list[EnvSpec]:
    """Every registered mercato environment, sorted by id then kind."""
    return [_REGISTERED[key] for key in sorted(_REGISTERED, key=lambda k: (k[1], k[0]))]


def spec_of(env_id: str) -> EnvSpec:
    """The `EnvSpec` of ``env_id`` (its AEC registration where it has both kinds); one line
    naming the registered ids when there is none."""
    import envs  # noqa: F401  (registers the built-in environments)

    for kind in _KINDS:
        spec = _REGISTERED.get((kind, env_id))
        if spec is not None:
            return spec
    known = sorted({registered for _, registered in _REGISTERED})
    raise ValueError(f"env_id: {env_id!r} is not a registered mercato env; known: {known}")


def env_kinds(env_id: str) -> set[str]:
    """The kinds (``aec``, ``parallel``) ``env_id`` can be made as (an AEC form included);
    empty when unknown."""
    import envs  # noqa: F401  (registers the built-in environments)

    kinds = {kind for kind, registered in _REGISTERED if registered == env_id}
    parallel = _REGISTERED.get(("parallel", env_id))
    if parallel is not None and parallel.aec_form:
        kinds.add("aec")
    return kinds


def make_env(env_id: str, params: Mapping[str, Any] | None = None, kind: str | None = None) -> Any:
    """The registered environment ``env_id`` built with ``params``: the given ``kind``, else its
    AEC registration where there is one (a Parallel env comes as itself, not as its AEC form).
    One line naming the registered ids, or kinds, when there is no such environment."""
    kinds = env_kinds(env_id)
    if not kinds:
        spec_of(env_id)  # raises, naming the registered ids
    chosen = kind or ("aec" if ("aec", env_id) in _REGISTERED else "parallel")
    if chosen not in kinds:
        with_kind = sorted({spec.id for spec in list_envs() if chosen in env_kinds(spec.id)})
        what = KIND_NAMES.get(chosen, chosen)
        raise ValueError(f"env_id: {env_id!r} is not a {what} mercato env; use {with_kind}")
    return pettingzoo.make(chosen, env_id, **dict(params or {}))
