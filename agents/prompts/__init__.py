"""Role prompts for language-model players, written for this project, kept as data files.

`role_prompts(env)` gives the prompts for every role of an environment (by its metadata name,
``bargaining_v0`` -> ``bargaining``); `LLMPolicy` uses them when an experiment gives none.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

_FILES = ("games.yaml", "marketplace.yaml", "trials.yaml", "recommendation.yaml")


@functools.cache
def _all_prompts() -> dict[str, dict[str, str]]:
    prompts: dict[str, dict[str, str]] = {}
    for name in _FILES:
        text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
        prompts.update(yaml.safe_load(text))
    return prompts


def game_of(env: Any) -> str:
    """The prompt key of an env: its metadata name without the version (``bargaining``)."""
    name = str(getattr(getattr(env, "unwrapped", env), "metadata", {}).get("name", ""))
    return name.rsplit("_v", 1)[0]


def role_prompts(env: Any) -> dict[str, str]:
    """Role -> prompt for ``env``; empty when none are written for it."""
    return dict(_all_prompts().get(game_of(env), {}))
