"""Import games played elsewhere (another project's logs) as a mercato run directory.

A family registers a reader per log source (`EnvSpec.importers`, see `envs.core.imported`);
`import_games` finds the reader for a source, lets it read the source directory and writes
what it yields as episodes and steps that `sim.store.load` and ``mercato report`` read. Games
the reader cannot import are counted in the manifest's ``skipped``, never fatal. This module
knows no env and no family: ``mercato import-glee`` is ``import_games("glee", ...)``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pandas as pd

from envs.core.imported import GameReader, ImportedGame, SkippedGame
from envs.core.names import role_of
from envs.core.registry import list_envs
from sim.engine.records import EpisodeRecord, StepColumns, to_json
from sim.store.runs import create_run

SHARD_SIZE = 1000
SKIPPED_LISTED = 1000
"""The manifest lists at most this many skipped games (all are counted)."""

INDEX_COLUMNS = ["episode_id", "cell_id", "game_id", "path"]


def index_name(source: str) -> str:
    """The file in the run directory that maps each episode to the game it came from."""
    return f"{source}_games.csv"


def reader_for(source: str) -> GameReader:
    """The registered reader of ``source``'s logs; one line naming the known sources when none
    (or, ambiguously, several) is registered."""
    import envs  # noqa: F401  (registers the built-in environments)

    entries = {spec.importers[source] for spec in list_envs() if source in spec.importers}
    if len(entries) != 1:
        known = sorted({name for spec in list_envs() for name in spec.importers})
        why = "no env imports" if not entries else f"several readers {sorted(entries)} import"
        raise ValueError(f"{why} {source!r} logs; known sources: {known}")
    module, _, attr = entries.pop().partition(":")
    return getattr(importlib.import_module(module), attr)


def import_games(
    source: str,
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fresh: bool = False,
    shard_size: int = SHARD_SIZE,
) -> Path:
    """Import every ``source`` game under ``source_dir`` into a new run directory ``out_dir``.

    One cell per distinct (env, parameters, players), ids ``c000``, ... in sorted order; episodes
    within a cell ordered by game id. Skipped games are counted in the manifest's ``skipped``.
    ValueError when ``source_dir`` is missing, holds no game that imports (nothing is written
    then), or ``out_dir`` is taken (see `create_run`).
    """
    folder = Path(source_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such directory")
    games: list[ImportedGame] = []
    skipped: list[dict[str, str]] = []
    for result in reader_for(source)(folder):
        if isinstance(result, SkippedGame):
            where = _relative(result.location, folder)
            skipped.append({"game": where, "kind": result.kind, "reason": result.reason})
        else:
            games.append(result)
    if not games:
        raise ValueError(_nothing_imported(source, folder, skipped))

    cells: dict[str, list[ImportedGame]] = {}
    for game in games:
        cells.setdefault(_cell_key(game), []).append(game)
    keys = sorted(cells)
    width = max(3, len(str(len(keys) - 1)))
    cell_ids = {key: f"c{i:0{width}d}" for i, key in enumerate(keys)}
    manifest_cells = [_manifest_cell(cell_ids[key], cells[key][0]) for key in keys]
    env_ids = sorted({game.env_id for game in games})
    created = datetime.now(UTC)
    plan = list(_episodes(keys, cells, cell_ids))
    shard_count = math.ceil(len(plan) / shard_size) if plan else 0
    found = len(games) + len(skipped)
    run = create_run(
        out_dir,
        {
            "run_id": f"{source}-{created:%Y%m%dT%H%M%SZ}-{uuid4().hex[:6]}",
            "name": source,
            "env": env_ids[0] if len(env_ids) == 1 else None,
            "envs": env_ids,
            "fingerprint": hashlib.sha256(
                json.dumps(manifest_cells, sort_keys=True).encode()
            ).hexdigest(),
            "seed": None,
            "source": source,
            "source_path": str(folder.resolve()),
            "plan": {"cells": len(keys), "episodes": len(plan), "shards": shard_count},
            "games": {"found": found, "imported": len(games), "skipped": len(skipped)},
            "skipped": {
                "count": len(skipped),
                "kinds": dict(sorted(Counter(s["kind"] for s in skipped).items())),
                "games": skipped[:SKIPPED_LISTED],
            },
            "cells": manifest_cells,
        },
        fresh=fresh,
    )
    try:
        shard_width = max(5, len(str(max(shard_count - 1, 0))))
        episode_width = max(5, len(str(max((len(g) for g in cells.values()), default=1) - 1)))
        index_rows = []
        for n in range(shard_count):
            records, steps = [], StepColumns()
            for cell_id, index, game in plan[n * shard_size : (n + 1) * shard_size]:
                episode_id = f"{cell_id}-e{index:0{episode_width}d}"
                records.append(_record(run.run_id, cell_id, episode_id, index, game))
                _add_steps(steps, episode_id, game)
                where = _relative(game.location, folder)
                index_rows.append([episode_id, cell_id, game.game_id, where])
            run.write_shard(f"s{n:0{shard_width}d}", records, steps)
        index = pd.DataFrame(index_rows, columns=INDEX_COLUMNS)
        index.to_csv(run.path / index_name(source), index=False)
        run.update_manifest(status="complete")
    finally:
        run.close()
    return run.path


def _nothing_imported(source: str, folder: Path, skipped: list[dict[str, str]]) -> str:
    """Why an import found no game to write: none there, or every one skipped (the first's
    reason as an example)."""
    if not skipped:
        return f"{folder}: no {source} games found there; nothing imported"
    kinds = ", ".join(
        f"{n} {kind}" for kind, n in sorted(Counter(s["kind"] for s in skipped).items())
    )
    first = skipped[0]
    return (
        f"{folder}: none of the {len(skipped)} {source} game(s) found could be imported ({kinds}; "
        f"e.g. {first['game']}: {first['reason']}); nothing imported"
    )


def _cell_key(game: ImportedGame) -> str:
    return json.dumps([game.env_id, game.params, game.roster], sort_keys=True, default=str)


def _episodes(
    keys: list[str], cells: dict[str, list[ImportedGame]], cell_ids: dict[str, str]
) -> Iterator[tuple[str, int, ImportedGame]]:
    for key in keys:
        ordered = sorted(cells[key], key=lambda g: (g.game_id, str(g.location)))
        for index, game in enumerate(ordered):
            yield cell_ids[key], index, game


def _manifest_cell(cell_id: str, game: ImportedGame) -> dict[str, Any]:
    players = {
        agent: {"policy": game.roster[agent], **player} for agent, player in game.players.items()
    }
    return {
        "cell_id": cell_id,
        "env_id": game.env_id,
        "params": json.loads(to_json(game.params)),
        "roster": json.loads(to_json(players)),
    }


def _record(
    run_id: str, cell_id: str, episode_id: str, index: int, game: ImportedGame
) -> EpisodeRecord:
    return EpisodeRecord(
        run_id=run_id,
        cell_id=cell_id,
        episode_id=episode_id,
        episode_index=index,
        env_id=game.env_id,
        params=dict(game.params),
        seed=None,  # type: ignore[arg-type]  # logged games are unseeded
        roster=dict(game.roster),
        metrics=dict(game.metrics),  # type: ignore[arg-type]
        returns=dict(game.returns),
        steps=len(game.steps),
        llm_calls=None,  # type: ignore[arg-type]  # not in the logs
        llm_tokens=None,  # type: ignore[arg-type]
        errors=None,  # type: ignore[arg-type]
        wall_s=None,  # type: ignore[arg-type]
    )


def _add_steps(steps: StepColumns, episode_id: str, game: ImportedGame) -> None:
    for number, step in enumerate(game.steps):
        steps.add(
            episode_id=episode_id,
            step=number,
            agent=step.agent,
            role=role_of(step.agent),
            action=to_json(step.action),
            message=step.message,
            info=to_json(step.info),
            policy=game.roster[step.agent],
        )


def _relative(location: Path, source_dir: Path) -> str:
    try:
        return location.relative_to(source_dir).as_posix() or "."
    except ValueError:
        return str(location)
