"""`mercato studio ROOT`: serve the runs under ROOT as web pages (needs the studio extra)."""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from sim.cli.app import app, exits_cleanly

STUDIO_PACKAGES = ("starlette", "uvicorn", "jinja2", "multipart")


@app.command("studio")
@exits_cleanly
def studio(
    root: Annotated[str, typer.Argument(help="Folder (or store URI) holding run directories.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8321,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="MERCATO_STUDIO_TOKEN",
            help="Admin token: admin pages then need /login?token=... (default: every page "
            "open, for local use).",
        ),
    ] = None,
) -> None:
    """Serve runs and their episodes turn by turn in the browser (default 127.0.0.1:8321)."""
    missing = [name for name in STUDIO_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(
            f"the studio needs the studio extra ({', '.join(missing)} missing): "
            "pip install 'mercato[studio]'"
        )
    from sim.store.storage import Location

    location = Location.of(root)
    if not location.exists():
        raise ValueError(f"{location.name()}: no such folder")
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        typer.echo(
            f"warning: serving on {host} without --token: anyone who reaches it reads every run",
            err=True,
        )
    import uvicorn

    from sim.studio.app import create_app
    from sim.studio.config import StudioConfig

    server = create_app(StudioConfig(root=root, admin_token=token))
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"mercato studio: serving {location.uri} at http://{shown}:{port}/")
    if token:
        typer.echo(f"log in once with http://{shown}:{port}/login?token=<your token>")
    uvicorn.run(server, host=host, port=port, log_level="warning")
