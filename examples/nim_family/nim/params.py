"""Nim's parameters: one frozen dataclass; bounds and errors come from `envs.core.params`."""

from __future__ import annotations

from dataclasses import dataclass

from envs.core.params import Params, integer


@dataclass(frozen=True)
class NimParams(Params):
    """Every constructor parameter of the Nim env."""

    tokens: int = integer(21, 1, 1000, doc="tokens on the table at the start")
    max_take: int = integer(3, 1, 10, doc="most tokens one move may take")
