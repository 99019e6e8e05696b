"""mercato's engine: language models, rollouts, batch runs, trajectory store, CLI.

Importing ``sim`` (any of its modules) registers the single-agent Gymnasium views
``mercato/<Env>-<Role>-v0`` that the registered envs declare (`sim.rl.views`; this imports `envs`).

``sim.run(experiment, workers=None, address=None, out=None)`` plays an experiment and returns its
run directory; ``sim.store.load(run_dir)`` returns its (episodes, steps) tables. Both load lazily,
so ``import sim`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from sim.rl.views import register_views

__version__ = "0.1.0"

register_views()


def __getattr__(name: str) -> Any:
    if name == "run":
        from sim.engine.batch import run

        return run
    if name in ("store", "report", "llm", "rl", "export", "engine"):
        return importlib.import_module(f"sim.{name}")
    if name in ("experiment", "rollout", "batch"):
        return importlib.import_module(f"sim.engine.{name}")
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
