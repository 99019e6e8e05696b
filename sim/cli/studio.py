"""`mercato studio ROOT`: serve the runs under ROOT as web pages (needs the studio extra)."""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any

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
            help="Admin token: admin pages then need a login at /login (default: every page "
            "open, for local use).",
        ),
    ] = None,
    study: Annotated[
        list[str] | None,
        typer.Option(help="A study file (YAML) to serve with people; repeat for more."),
    ] = None,
    models_from: Annotated[
        str | None,
        typer.Option(help="Take the models (key -> spec) of this experiment file."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(help="A model as key=spec (e.g. fake-key=fake); repeat for more."),
    ] = None,
    takeover: Annotated[
        bool,
        typer.Option(
            "--takeover",
            help="Take a study run whose last server crashed (its lease is stale) and resume "
            "its participants.",
        ),
    ] = False,
) -> None:
    """Serve runs and their episodes turn by turn in the browser (default 127.0.0.1:8321), and
    studies with people (open link /s/<study>; progress at /admin/studies)."""
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

    from sim.studio.server import build_studio

    models = _models(models_from, model or [])
    server = build_studio(root, token, study or (), models, takeover=takeover)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"mercato studio: serving {location.uri} at http://{shown}:{port}/")
    for name in server.state.studies:
        typer.echo(f"study {name}: open link http://{shown}:{port}/s/{name}")
    if token:
        typer.echo(f"admin pages: log in once at http://{shown}:{port}/login with the token")
    uvicorn.run(server, host=host, port=port, log_level="warning")


def _models(models_from: str | None, pairs: list[str]) -> dict[str, Any] | None:
    """Model specs by key: an experiment file's ``models``, then each ``key=spec`` (a spec in
    YAML, e.g. a mapping, or a plain name)."""
    import yaml

    from sim.engine.experiment import load_experiment

    models: dict[str, Any] = {}
    if models_from is not None:
        models.update(load_experiment(models_from).models)
    for pair in pairs:
        key, sep, spec = pair.partition("=")
        if not sep or not key.strip() or not spec.strip():
            raise ValueError(f"--model: expected key=spec, got {pair!r}")
        parsed = yaml.safe_load(spec)
        models[key.strip()] = parsed if isinstance(parsed, dict) else spec.strip()
    return models or None
