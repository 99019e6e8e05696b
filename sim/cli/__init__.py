"""The `mercato` command line: `app` (typer) with one module per command group: `runs` (run,
verify, report), `models` (models, demo, envs), `bench`, `data` (import-glee, export)."""

from sim.cli import runs, models, data, bench  # noqa: F401, I001  (register their commands, in this order)
from sim.cli.app import EXIT_RUN_FAILED, app, main

__all__ = ["EXIT_RUN_FAILED", "app", "main"]
