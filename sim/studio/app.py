"""The studio's ASGI app: `create_app(config)` wires the page modules, static files, templates
and the security middleware.

Each page module offers ``routes()``; later route groups (play, studies) come in through
``create_app(config, extra_routes=[...])`` and render with `sim.studio.pages.render` on the
same templates.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sim.store.storage import Location, StoreError
from sim.studio import episode_replay, login, run_page
from sim.studio.config import Limits, StudioConfig
from sim.studio.pages import render, templates
from sim.studio.runs_index import RunSummary, find_runs, summarise
from sim.studio.security import (
    RunPaths,
    SecurityMiddleware,
    admin_only,
    secret_values,
)

HERE = Path(__file__).resolve().parent


def create_app(config: StudioConfig, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The studio server for ``config``: runs (``/``), a run (``/runs/{path}``), an episode
    (``/runs/{path}/episodes/{id}``), plus ``extra_routes`` (tried before the built-in ones)."""
    routes: list[BaseRoute] = [
        *extra_routes,
        Route("/", admin_only(runs_view), name="runs"),
        *login.routes(),
        *episode_replay.routes(),
        *run_page.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, limits=config.limits)],
        exception_handlers={ValueError: unreadable_run, StoreError: unreadable_run},
    )
    app.state.config = config
    app.state.paths = RunPaths(config.root)
    app.state.templates = templates(secret_values())
    app.state.cache = run_page.RunCache()
    app.state.runs_rows = RunsRows()
    return app


async def unreadable_run(request: Request, error: Exception) -> Response:
    """A run that cannot be read (damaged shard, unreadable manifest, storage failure): one
    line saying why, on a page (500), never a traceback."""
    return render(request, "error.html", status_code=500, message=" ".join(str(error).split()))


def runs_view(request: Request) -> Response:
    """``/``: every run under the root with status, progress, models, cost and fallbacks."""
    paths: RunPaths = request.app.state.paths
    rows = request.app.state.runs_rows.get(paths.root, request.app.state.config.limits)
    return render(request, "runs.html", runs=rows, root=paths.root.uri)


class RunsRows:
    """The runs page's rows, listed again at most every ``remote_ttl_s`` for object storage
    (a listing and a manifest read per run, each a round trip) and on every request for a
    local folder (cheap, and a run just written shows at once)."""

    def __init__(self, remote_ttl_s: float = 10.0) -> None:
        self.remote_ttl_s = remote_ttl_s
        self._rows: list[RunSummary] = []
        self._at = -math.inf
        self._lock = threading.Lock()

    def get(self, root: Location, limits: Limits) -> list[RunSummary]:
        if root.local:
            return [summarise(root, rel) for rel in find_runs(root, limits.max_depth)]
        with self._lock:
            if time.monotonic() - self._at > self.remote_ttl_s:
                self._rows = [summarise(root, rel) for rel in find_runs(root, limits.max_depth)]
                self._at = time.monotonic()
            return self._rows
