"""mercato's environment registry: PettingZoo registration plus a table `mercato envs` can list.

Ids live in PettingZoo's registry under the ``mercato`` namespace, so users create envs with
``pettingzoo.make("aec" | "parallel", "mercato/<Name>-v0")``. PettingZoo keeps one registry per
kind, so the same id may be registered once as ``"aec"`` and once as ``"parallel"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pettingzoo

NAMESPACE = "mercato"
EnvKind = Literal["aec", "parallel"]
_KINDS: tuple[str, ...] = ("aec", "parallel")
KIND_NAMES = {"aec": "turn-taking (AEC)", "parallel": "simultaneous (Parallel)"}


@dataclass(frozen=True)
class EnvInfo:
    """One registered environment: what `list_envs` reports."""

    id: str
    kind: EnvKind
    family: str
    summary: str
    entry_point: str | Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)


_REGISTERED: dict[tuple[str, str], EnvInfo] = {}


def register_env(
    name: str,
    *,
    kind: EnvKind,
    entry_point: str | Callable[..., Any],
    family: str,
    summary: str,
    kwargs: Mapping[str, Any] | None = None,
) -> EnvInfo:
    """Register ``mercato/<name>`` with PettingZoo and record it for `list_envs`.

    Registering an id again with the same entry point and kwargs is a no-op (modules may be
    imported twice); a different entry point or kwargs raises ``ValueError``.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    if not name or "/" in name:
        raise ValueError(f"name must be a bare '<Name>-v<N>' without a namespace, got {name!r}")
    env_id = f"{NAMESPACE}/{name}"
    info = EnvInfo(env_id, kind, family, summary, entry_point, dict(kwargs or {}))
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
    _REGISTERED[(kind, env_id)] = info
    return info


def list_envs() -> list[EnvInfo]:
    """Every registered mercato environment, sorted by id then kind."""
    return [_REGISTERED[key] for key in sorted(_REGISTERED, key=lambda k: (k[1], k[0]))]


def env_kinds(env_id: str) -> set[str]:
    """The kinds (``aec``, ``parallel``) ``env_id`` is registered as; empty when unknown."""
    import envs  # noqa: F401  (registers the built-in environments)

    return {kind for kind, registered in _REGISTERED if registered == env_id}


def make_env(env_id: str, params: Mapping[str, Any] | None = None, kind: str | None = None) -> Any:
    """The registered environment ``env_id`` built with ``params``: the given ``kind``, else its
    AEC form where there is one (a Parallel-only env comes as itself). One line naming the
    registered ids, or kinds, when there is no such environment."""
    kinds = env_kinds(env_id)
    if not kinds:
        known = sorted({registered for _, registered in _REGISTERED})
        raise ValueError(f"env_id: {env_id!r} is not a registered mercato env; known: {known}")
    chosen = kind or ("aec" if "aec" in kinds else "parallel")
    if chosen not in kinds:
        with_kind = sorted({registered for k, registered in _REGISTERED if k == chosen})
        what = KIND_NAMES.get(chosen, chosen)
        raise ValueError(f"env_id: {env_id!r} is not a {what} mercato env; use {with_kind}")
    return pettingzoo.make(chosen, env_id, **dict(params or {}))
