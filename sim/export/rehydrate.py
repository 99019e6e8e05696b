"""JSON from the steps table back into an environment's spaces.

Observations and actions are stored as compact JSON (numpy arrays as lists, tuples as lists), so
code that needs the real values (a protocol's `render`, Minari's typed columns) rebuilds them from
the space: Box/MultiBinary/MultiDiscrete become arrays of the space's dtype and shape, Discrete an
int, Text a str, Dict/Tuple/Sequence recurse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from gymnasium import spaces
from gymnasium.vector.utils import concatenate, create_empty_array

from sim.export.errors import ExportError


def rehydrate(value: Any, space: spaces.Space[Any], where: str = "value") -> Any:
    """``value`` (parsed JSON) as a member of ``space``; ``where`` names it in errors."""
    if isinstance(space, spaces.Dict):
        if not isinstance(value, Mapping):
            raise ExportError(
                f"{where}: expected a JSON object for a Dict space, got {value!r:.80}"
            )
        missing = [key for key in space.spaces if key not in value]
        if missing:
            raise ExportError(f"{where}: missing key(s) {missing} of its Dict space")
        return {key: rehydrate(value[key], sub, f"{where}.{key}") for key, sub in space.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(
            rehydrate(item, sub, f"{where}[{i}]")
            for i, (item, sub) in enumerate(zip(_items(value, where), space.spaces, strict=True))
        )
    if isinstance(space, spaces.Sequence):
        items = [
            rehydrate(item, space.feature_space, f"{where}[]") for item in _items(value, where)
        ]
        if not space.stack:
            return tuple(items)
        out = create_empty_array(space.feature_space, n=len(items))
        return concatenate(space.feature_space, items, out)
    if isinstance(space, spaces.Box | spaces.MultiBinary | spaces.MultiDiscrete):
        try:
            return np.asarray(value, dtype=space.dtype).reshape(space.shape)
        except (TypeError, ValueError) as error:
            raise ExportError(f"{where}: {value!r:.80} does not fit {space} ({error})") from None
    if isinstance(space, spaces.Discrete):
        return int(_scalar(value, where))
    if isinstance(space, spaces.Text):
        return value if isinstance(value, str) else str(value)
    raise ExportError(f"{where}: cannot rebuild values of {type(space).__name__} spaces from JSON")


def from_json(text: str, space: spaces.Space[Any], where: str = "value") -> Any:
    """A steps-table JSON column value rebuilt in ``space``."""
    return rehydrate(orjson.loads(text), space, where)


def _items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ExportError(f"{where}: expected a JSON list, got {value!r:.80}")
    return list(value)


def _scalar(value: Any, where: str) -> Any:
    array = np.asarray(value)
    if array.size != 1:
        raise ExportError(f"{where}: expected one number, got {value!r:.80}")
    return array.reshape(()).item()
