"""The run directory on any filesystem pyarrow reads: `runs` (open, resume, commit, load),
`storage` (local paths and object stores), `lease` (one writer per run), `shard_index`
(verified shards), `tables` (the Parquet schemas), `importer` (games played elsewhere).

``sim.store.load(run)`` returns a run's (episodes, steps) tables; ``load_episodes`` and
``load_steps`` one of them; ``read_manifest`` its manifest.
"""

from sim.store.runs import load, load_episodes, load_steps, read_manifest

__all__ = ["load", "load_episodes", "load_steps", "read_manifest"]
