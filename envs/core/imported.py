"""Games played elsewhere, read into the shape of a mercato episode.

A family that can read another project's game logs registers a reader for that source
(`EnvSpec.importers`: source name -> ``"module:function"``). The reader takes a source directory
and yields one `ImportedGame` or `SkippedGame` per game it finds; ``mercato import-<source>``
writes them into a run directory without knowing the family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ImportedStep:
    """One logged action, in the env's action vocabulary; ``info`` is what the log adds."""

    agent: str
    action: Mapping[str, Any]
    message: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedGame:
    """One complete logged game as an episode of ``env_id``.

    ``location`` is the file or folder it was read from; ``game_id`` the source's name for it.
    ``roster`` maps each agent to a policy label; ``players`` maps each agent to what the run's
    manifest keeps about its player (plain JSON values). ``metrics`` are the env's final
    ``info["metrics"]`` and ``returns`` each agent's episode return, as the env would give them.
    """

    location: Path
    game_id: str
    env_id: str
    params: Mapping[str, Any]
    roster: Mapping[str, str]
    players: Mapping[str, Mapping[str, Any]]
    metrics: Mapping[str, float | None]
    returns: Mapping[str, float]
    steps: tuple[ImportedStep, ...] = ()


@dataclass(frozen=True)
class SkippedGame:
    """A game that cannot be imported: ``kind`` is ``truncated``, ``unreadable`` or
    ``unsupported``, ``reason`` says why in a line."""

    location: Path
    kind: str
    reason: str


GameReader = Callable[[Path], Iterable[ImportedGame | SkippedGame]]
"""What an importer entry point is: source directory -> one result per game found."""
