"""Random instances of a JSON Schema: what any decoder constrained by that schema might answer.

Covers the subset `envs.core.structured` builds (closed objects, ``anyOf``, ``enum``/``const``,
bounded numbers and integers, strings with ``maxLength``, bounded arrays, ``null``). The fake
backend answers structured requests with these, and property tests use them to check that every
reply a schema admits parses to a valid action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_WORDS = ("deal", "fair", "price", "offer", "good", "value", "yes", "no", "maybe", "café", "€5")


def sample_instance(schema: Mapping[str, Any], rng: np.random.Generator) -> Any:
    """One random value that ``schema`` admits (edge values drawn often)."""
    if "anyOf" in schema:
        options = schema["anyOf"]
        return sample_instance(options[int(rng.integers(len(options)))], rng)
    if "enum" in schema:
        values = schema["enum"]
        return values[int(rng.integers(len(values)))]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[int(rng.integers(len(kind)))]
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: sample_instance(sub, rng) for name, sub in properties.items()}
    if kind == "array":
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", low + 3))
        items = schema.get("items", {})
        return [sample_instance(items, rng) for _ in range(int(rng.integers(low, high + 1)))]
    if kind == "integer":
        low, high = int(schema.get("minimum", -1000)), int(schema.get("maximum", 1000))
        return int(rng.integers(low, high + 1))
    if kind == "number":
        low, high = float(schema.get("minimum", -1e6)), float(schema.get("maximum", 1e6))
        edge = rng.random()
        if edge < 0.15:
            return low
        if edge < 0.3:
            return high
        value = float(rng.uniform(low, high))
        rounded = round(value, int(rng.integers(0, 7)))  # models write few decimals
        return rounded if low <= rounded <= high else value
    if kind == "string":
        limit = int(schema.get("maxLength", 40))
        words = [_WORDS[int(rng.integers(len(_WORDS)))] for _ in range(int(rng.integers(0, 8)))]
        return " ".join(words)[:limit]
    if kind == "boolean":
        return bool(rng.integers(2))
    if kind == "null":
        return None
    raise ValueError(f"schema: cannot sample {dict(schema)!r}")
