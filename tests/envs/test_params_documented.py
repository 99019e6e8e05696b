"""Every registered env declares its parameters once, in its `Params` class, and the rest agrees:
each field has a one-line meaning (`mercato envs` shows it), the env's docstring names it in its
Parameters section, and the constructor's published signature lists exactly those fields."""

from __future__ import annotations

import inspect
import re

import pytest

import envs
from envs.core.registry import make_env

SPECS = [spec for spec in envs.list_envs() if spec.params is not None]


def parameters_section(cls: type) -> str:
    """The text under the docstring's Parameters heading, up to the next heading."""
    doc = inspect.getdoc(cls) or ""
    match = re.search(r"^#*\s*Parameters:?\s*$(.*?)(?=^#+\s|\Z)", doc, re.M | re.S)
    assert match, f"{cls.__name__}: no Parameters section"
    return match.group(1)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_each_parameter_has_a_meaning_and_is_documented(spec) -> None:
    env = make_env(spec.id)
    try:
        section = parameters_section(type(env.unwrapped))
    finally:
        env.close()
    for row in spec.params.table():
        assert row.doc, f"{spec.id}: parameter {row.name} has no doc"
        assert re.search(rf"`{row.name}`", section), f"{spec.id}: {row.name} not in docstring"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_the_published_signature_is_the_params(spec) -> None:
    env = make_env(spec.id)
    try:
        signature = inspect.signature(type(env.unwrapped).__init__)
    finally:
        env.close()
    named = [name for name in signature.parameters if name not in ("self", "render_mode")]
    assert named == list(spec.params.defaults()), spec.id
    for name, default in spec.params.defaults().items():
        assert signature.parameters[name].default == default, (spec.id, name)
