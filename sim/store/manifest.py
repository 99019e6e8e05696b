"""A run's ``manifest.json`` as a typed model: what was run, with which code, how far it got.

Every field the engine and the importer write is declared here with its meaning
(docs/run-directory.md); `read_manifest` returns a `Manifest`, so readers use attributes, not
``.get`` on raw dicts. Fields a later mercato writes are kept (``extra="allow"``), so an older
reader never drops them when it updates a manifest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Plan(BaseModel):
    """How much the run is: cells, episodes and the shards they are cut into."""

    model_config = ConfigDict(extra="allow")

    cells: int = 0
    episodes: int = 0
    shards: int = 0


class Manifest(BaseModel):
    """The manifest of a run directory (layout 2)."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    name: str
    env: str | None = None
    """The env id (None for an imported run that mixes envs: see ``envs``)."""
    fingerprint: str | None = None
    """sha256 of the resolved experiment and its cells: a resumed run must match it."""
    seed: int | None = None
    plan: Plan | None = None
    """None when the plan is unknown (then every committed shard of the run counts)."""
    experiment: dict[str, Any] | None = None
    """The resolved experiment (`sim.engine.experiment.Experiment.resolved`)."""
    cells: list[dict[str, Any]] = []
    """Each cell's ``cell_id``, ``params`` and ``roster``."""
    layout: int | None = None
    checksums: str | None = None
    """``sha256`` when shard commit records carry file hashes."""
    status: str = "running"
    """``running``, ``complete``, ``failed`` or ``interrupted``."""
    failure: str | None = None
    created: str | None = None
    updated: str | None = None
    versions: dict[str, str | None] = {}
    git_commit: str | None = None
    out: str | None = None
    wall_s: float = 0.0
    """Seconds spent playing, summed over invocations."""
    invocations: list[dict[str, Any]] = []
    replay_shards: list[str] = []
    """Shards to play again (their LLM decisions fell back too often)."""
    llm: dict[str, Any] | None = None
    """Per model key, the run's LLM decision totals (`sim.engine.fallbacks.manifest_totals`)."""
    cluster: dict[str, Any] | None = None
    workers: int | None = None
    address: str | None = None
    """The ``--workers`` and ``--address`` the last invocation was given."""
    # an imported run (`sim.store.importer`): where its games came from and how many imported
    envs: list[str] | None = None
    source: str | None = None
    source_path: str | None = None
    games: dict[str, int] | None = None
    skipped: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-able data, every field included."""
        return self.model_dump(mode="json")
