"""`mercato models`, `mercato demo` and `mercato envs`: the model cache, a model smoke run and
the registered environments."""

from __future__ import annotations

import time
from typing import Annotated, Any

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


@app.command("envs")
@exits_cleanly
def envs_list() -> None:
    """List the registered environments and their parameters (with defaults)."""
    import envs

    registered = envs.list_envs()
    if not registered:
        console.print("no environments registered yet")
        return
    table = Table()
    for title in ("id", "kind", "family"):
        table.add_column(title, no_wrap=True)
    table.add_column("summary")
    table.add_column("parameters", overflow="fold")
    for info in registered:
        table.add_row(info.id, info.kind, info.family, info.summary, _parameters_text(info))
    console.print(table)


def _parameters_text(info: Any) -> str:
    """One ``name=default`` line per parameter: from the env's `Params` where its spec has one,
    else its constructor's signature (an env that fails to load says why)."""
    from sim.engine.cells import REQUIRED, env_parameters

    if info.params is not None:
        return "\n".join(f"{row.name}={row.default!r}" for row in info.params.table())
    env_id = info.id
    try:
        parameters = env_parameters(env_id)
    except (ImportError, TypeError, ValueError) as error:
        return f"unavailable: {error}"
    return "\n".join(
        name if default is REQUIRED else f"{name}={default!r}"
        for name, default in parameters.items()
    )
