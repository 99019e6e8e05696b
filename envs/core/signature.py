"""Publishing an env's real keyword parameters when its constructor takes ``**params``."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any


def keyword_signature(params_class: Any, *, with_self: bool) -> inspect.Signature:
    """``render_mode`` plus every field of the dataclass ``params_class`` as keyword-only
    parameters with their defaults: assign it to ``__init__.__signature__`` (and the factory's)
    so experiment validation and `mercato envs` see the parameters behind ``**params``."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("render_mode", keyword, default=None)]
    params += [
        inspect.Parameter(f.name, keyword, default=f.default)
        for f in dataclasses.fields(params_class)
    ]
    if with_self:
        params.insert(0, inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD))
    return inspect.Signature(params)
