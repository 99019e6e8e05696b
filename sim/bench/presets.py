"""The benches' cases, read once from `presets.yaml` (data: the engine's code names no family)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

PRESETS_FILE = Path(__file__).with_name("presets.yaml")


@functools.cache
def presets() -> dict[str, Any]:
    """The whole presets file as plain data."""
    return yaml.safe_load(PRESETS_FILE.read_text(encoding="utf-8"))
