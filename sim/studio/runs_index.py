"""The runs page's data: every run directory under the root and a one-row summary of each.

A run is a folder holding ``manifest.json``; suites hold several, so the walk goes a few levels
deep (`Limits.max_depth`). Reading one run may fail (a damaged manifest, a storage error): its
row then says why, and the other rows still show.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.engine.records import LLMTally, total_tally
from sim.store.storage import Location, child_uri
from sim.studio.security import MANIFEST

SKIPPED_FOLDERS = frozenset({"episodes", "steps", "shards", "plots", "__pycache__"})
"""Folders of a run directory (never runs themselves): the walk does not enter them."""


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs page."""

    path: str
    """The run's path under the root, as URLs name it (``.`` for the root itself)."""
    name: str = ""
    env: str = ""
    status: str = ""
    episodes_done: int = 0
    episodes_planned: int | None = None
    models: tuple[str, ...] = ()
    cost: float | None = None
    fallback_rate: float | None = None
    updated: str = ""
    failure: str | None = None
    error: str | None = None
    """Why the run could not be read (then only ``path`` is known)."""

    @property
    def progress(self) -> str:
        planned = "?" if self.episodes_planned is None else str(self.episodes_planned)
        return f"{self.episodes_done}/{planned}"


def find_runs(root: Location, max_depth: int) -> list[str]:
    """Paths (relative to ``root``, sorted) of every folder holding a manifest, at most
    ``max_depth`` levels down; symlinked folders are not followed."""
    if root.local:
        return _find_local(Path(root.root), max_depth)
    found = []
    for rel in root.files("", recursive=True):
        parts = rel.split("/")
        nested = len(parts) - 1 <= max_depth and not SKIPPED_FOLDERS.intersection(parts[:-1])
        if parts[-1] == MANIFEST and nested:
            found.append("/".join(parts[:-1]) or ".")
    return sorted(found)


def _find_local(root: Path, max_depth: int) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel = Path(folder).relative_to(root)
        depth = len(rel.parts)
        if MANIFEST in files and not Path(folder, MANIFEST).is_symlink():
            found.append(rel.as_posix())
        dirs[:] = sorted(
            d
            for d in dirs
            if depth < max_depth and not d.startswith(".") and d not in SKIPPED_FOLDERS
        )
    return sorted(found)


def summarise(root: Location, rel: str) -> RunSummary:
    """The runs-page row of the run at ``rel``; a row with ``error`` when it cannot be read."""
    from sim.store.lease import writer_state
    from sim.store.runs import read_manifest

    location = root if rel == "." else Location.of(child_uri(root.spec, rel))
    try:
        manifest = read_manifest(location)
        done = _episodes_done(location, manifest)
        llm = manifest.llm or {}
        tally = total_tally(LLMTally.from_dict(t) for t in llm.values() if isinstance(t, dict))
        return RunSummary(
            path=rel,
            name=manifest.name,
            env=manifest.env or ", ".join(manifest.envs or []),
            status=writer_state(location, manifest.status),
            episodes_done=done,
            episodes_planned=manifest.plan.episodes if manifest.plan else None,
            models=model_names(manifest.experiment),
            cost=tally.cost,
            fallback_rate=tally.fallback_rate,
            updated=manifest.updated or manifest.created or "",
            failure=manifest.failure,
        )
    except Exception as error:  # one unreadable run is that run's row, never a 500
        return RunSummary(path=rel, error=" ".join(str(error).split())[:300] or repr(error))


def _episodes_done(location: Location, manifest: Any) -> int:
    """Episodes in the run's committed shards of its plan (from the commit records alone)."""
    from sim.store.shard_index import planned_shard_ids, read_records

    records, _ = read_records(location)
    planned = planned_shard_ids(manifest)
    return sum(
        r.episodes.rows
        for shard_id, r in records.items()
        if r.run_id == manifest.run_id and (planned is None or shard_id in planned)
    )


def model_names(experiment: dict[str, Any] | None) -> tuple[str, ...]:
    """Each model of an experiment as ``key (backend, model)``: never its URL, key or options
    (a spec may carry credentials; it names key variables, whose values never leave the env)."""
    models = (experiment or {}).get("models") or {}
    shown = []
    for key, spec in sorted(models.items()):
        if isinstance(spec, str):
            backend, _, rest = spec.partition(":")
            model = rest.split("@", 1)[0] if backend == "openai" else ""
        elif isinstance(spec, dict):
            backend, model = str(spec.get("backend", "?")), str(spec.get("model") or "")
        else:
            backend, model = "?", ""
        shown.append(f"{key} ({backend}{', ' + model if model else ''})")
    return tuple(shown)
