"""The `mercato` command line: `app` (typer) with one module per command group: `runs` (run,
verify, report), `models` (models, demo), `catalog` (envs, policies), `bench`, `data`
(import-glee, export), `studio` (the web server).

`sim.cli.app` comes first: it names the missing extra in one line before typer is imported."""

from sim.cli.app import EXIT_RUN_FAILED, app, main  # noqa: I001  (first: it checks the extras)
from sim.cli import runs, models, catalog, data, bench, studio  # noqa: F401  (register, in order)

__all__ = ["EXIT_RUN_FAILED", "app", "main"]
