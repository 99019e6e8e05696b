"""Roster entries: who plays a seat, read and checked by one set of rules for an experiment's
``roster`` (YAML, `sim.engine.cells`) and a single-agent view's ``opponents=`` (Python).

An entry is a registered policy name, or a mapping ``{policy, model, role_prompt, options}``:
``model`` is a key of the experiment's ``models`` or a model spec (`sim.llm.spec.SPEC_FORMS`),
required by policies that take a model; ``options`` go to the policy's factory. Plain Python
(no pydantic), so the core install reads entries too. Errors are one line naming the field.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.registry import PolicyInfo
from sim.llm.spec import SPEC_FORMS, parse_spec

FIELDS = ("model", "options", "policy", "role_prompt")
"""The fields of a roster entry's mapping form."""

_REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class SeatEntry:
    """Who plays a seat: a registered policy and its settings (see the module docstring)."""

    policy: str
    model: str | None = None
    role_prompt: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def read_entry(value: Any, where: str) -> SeatEntry:
    """``value`` (a policy name or an entry mapping) as a `SeatEntry`; a ValueError naming the
    field of ``where`` that is wrong."""
    if isinstance(value, str):
        return SeatEntry(value)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: {value!r} is invalid: expected a policy name or a mapping")
    unknown = sorted(str(key) for key in value if key not in FIELDS)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown field; allowed: {list(FIELDS)}")
    if "policy" not in value:
        raise ValueError(f"{where}.policy: required field is missing")
    for name in ("policy", "model", "role_prompt"):
        given = value.get(name)
        if not (isinstance(given, str) or (given is None and name != "policy")):
            raise ValueError(f"{where}.{name}: {given!r} is invalid: expected a string")
    options = value.get("options", {})
    if not isinstance(options, Mapping):
        raise ValueError(f"{where}.options: {options!r} is invalid: expected a mapping")
    return SeatEntry(value["policy"], value.get("model"), value.get("role_prompt"), dict(options))


def check_entry(entry: Any, info: PolicyInfo, models: Mapping[str, Any], where: str) -> None:
    """``entry`` (a `SeatEntry` or anything with its fields) gives the policy ``info`` the model,
    role prompt and options it takes; ``models`` is the table of named models (may be empty).
    A ValueError, one line naming ``where``'s field, when not."""
    factory = inspect.signature(info.factory).parameters
    takes = set(info.options)
    misplaced = sorted({"model", "role_prompt"} & set(entry.options) & takes)
    if misplaced:
        raise ValueError(
            f"{where}.options: {misplaced[0]!r} is a field of the entry, not an option: "
            f"{{policy: {entry.policy}, {misplaced[0]}: ..., options: {{...}}}}"
        )
    if "model" in takes:
        _check_model(models, entry, where, factory["model"].default is _REQUIRED)
    elif entry.model is not None:
        raise ValueError(f"{where}.model: policy {entry.policy!r} takes no model")
    if entry.role_prompt is not None and "role_prompt" not in takes:
        raise ValueError(f"{where}.role_prompt: policy {entry.policy!r} takes no role prompt")
    allowed = [o for o in info.options if o not in ("model", "role_prompt")]
    unknown = sorted(set(entry.options) - set(allowed))
    if unknown:
        raise ValueError(
            f"{where}.options: unknown option(s) {unknown} for policy {entry.policy!r}; "
            f"allowed: {allowed}"
        )
    needed = [o for o in allowed if factory[o].default is _REQUIRED and o not in entry.options]
    if needed:
        raise ValueError(f"{where}.options: policy {entry.policy!r} needs option(s) {needed}")


def _check_model(models: Mapping[str, Any], entry: Any, where: str, required: bool) -> None:
    names = sorted(models)
    keys = f"a key of models ({names}) or " if names else ""
    if entry.model is None:
        if required:
            raise ValueError(
                f"{where}.model: policy {entry.policy!r} needs a model: {keys}a spec "
                f"({', '.join(SPEC_FORMS)})"
            )
        return
    if entry.model in models:
        return
    try:
        parse_spec(entry.model)
    except ValueError as error:
        if not names:
            raise ValueError(f"{where}.model: {error}") from None
        raise ValueError(
            f"{where}.model: {entry.model!r} is neither a key of models ({names}) nor a model "
            f"spec: {error}"
        ) from None
