"""`mercato envs` and `mercato policies`: what can be run, as blocks that wrap at spaces (so they
read at 80 columns): each env with its parameters and Gymnasium views, each policy with the env
it plays, its options and what it does."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from sim.cli.app import app, console, exits_cleanly

INDENT = 2


@app.command("envs")
@exits_cleanly
def envs_list() -> None:
    """List the registered environments: parameters (with defaults) and Gymnasium views."""
    import envs

    registered = envs.list_envs()
    if not registered:
        console.print("no environments registered yet")
        return
    for info in registered:
        console.print(Text(f"{info.id}", style="bold") + Text(f"  {info.kind}, {info.family}"))
        rows = [("", info.summary), ("parameters", "  ".join(_parameters(info)))]
        for view in info.views:
            seats = ", ".join(f"{role}: {policy}" for role, policy in view.opponents.items())
            rows.append(("view", f"mercato/{view.name}  learner {view.learner}; {seats}"))
        console.print(_block(rows))


@app.command("policies")
@exits_cleanly
def policies_list(
    env: Annotated[
        str | None, typer.Option(help="Only the policies that play this env id.")
    ] = None,
) -> None:
    """List the registered policies: the env each plays, its options and what it does."""
    import importlib

    from agents.registry import list_policies
    from sim.engine.cells import env_parameters

    for package in ("envs", "agents.scripted", "agents.users"):  # registers their policies
        importlib.import_module(package)
    if env is not None:
        env_parameters(env)  # an unknown env id is one error line naming the known ones
    groups: dict[str, list[Any]] = {}
    for info in list_policies(env):
        for where in info.envs or ("any env",):
            if env is None or where in (env, "any env"):
                groups.setdefault(where, []).append(info)
    for where in sorted(groups, key=lambda w: (w != "any env", w)):
        console.print(Text(where, style="bold"))
        rows = []
        for info in groups[where]:
            options = f" (options: {', '.join(info.options)})" if info.options else ""
            rows.append((info.name, f"{info.summary or '-'}{options}"))
        console.print(_block(rows))


def _block(rows: list[tuple[str, str]]) -> Table:
    """Two columns, indented: a name that never wraps, text that wraps at its spaces."""
    grid = Table.grid(padding=(0, 2, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for name, text in rows:
        grid.add_row(" " * INDENT + name, text)
    return grid


def _parameters(info: Any) -> list[str]:
    """``name=default`` per parameter: from the env's `Params` where its spec has one, else its
    constructor's signature (an env that fails to load says why)."""
    from sim.engine.cells import REQUIRED, env_parameters

    if info.params is not None:
        return [f"{row.name}={row.default!r}".replace(" ", "") for row in info.params.table()]
    try:
        parameters = env_parameters(info.id)
    except (ImportError, TypeError, ValueError) as error:
        return [f"unavailable: {error}"]
    return [
        name if default is REQUIRED else f"{name}={default!r}".replace(" ", "")
        for name, default in parameters.items()
    ]
