"""The whole studio server: runs pages, play pages (when installed) and studies with people.

`build_studio` loads and checks every study up front (a bad file fails before anything listens);
the server's lifespan then opens each study's run directory ``ROOT/<study name>`` with one
`SessionManager` (holding the run's lease while the server runs), resumes every unfinished
journaled episode (participants coming back after a restart find their game where they left it),
abandons idle participants periodically, and on shutdown closes the managers (journals stay open
for the next start; the lease is released).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from sim.engine.cells import ExperimentError
from sim.store.lease import check_free
from sim.store.storage import Location
from sim.studio import study_pages
from sim.studio.app import create_app
from sim.studio.committer import ShardCommitter
from sim.studio.config import Limits, StudioConfig
from sim.studio.play import SessionManager
from sim.studio.studies import ParticipantBook, Study, load_study, read_study_yaml
from sim.studio.study_pages import StudyHost

log = logging.getLogger(__name__)

BOOK_DIR = ("study", "participants")
EXPIRE_EVERY_S = 30.0
THREADS = 200
"""Worker threads for handlers that wait on a game (one per participant waiting at once)."""


def build_studio(
    root: str | Path,
    admin_token: str | None = None,
    studies: Iterable[str | Path | Mapping[str, Any] | Study] = (),
    models: Mapping[str, Any] | None = None,
    limits: Limits | None = None,
    *,
    window_s: float = 0.01,
    takeover: bool = False,
) -> Starlette:
    """The studio for runs under ``root`` with ``studies`` served under ``/s/`` and ``/p/``.

    ``models`` adds to or replaces each study's ``models`` (specs; each model is shared by
    every participant's opponents through batching); ``takeover`` takes a run's lease a crashed
    server left behind."""
    loaded = [s if isinstance(s, Study) else load_study(_with_models(s, models)) for s in studies]
    names = [study.name for study in loaded]
    if len(set(names)) != len(names):
        raise ExperimentError(f"studies: two studies share a name ({sorted(names)})")
    if loaded and not Path(root).is_dir():
        raise ValueError(f"{root}: studies need a local folder as the root")
    for study in loaded:  # a run another server holds (or a crashed one held): say so now
        check_free(Location.of(str(Path(root, study.name))), takeover)
    hosts = {
        study.name: StudyHost(study, ParticipantBook(Path(root, study.name, *BOOK_DIR), study))
        for study in loaded
    }
    extra: list[BaseRoute] = [*study_pages.routes()]
    play = _play_pages()
    if play is not None:
        extra.extend(play.play_routes())
    config = StudioConfig(root=str(root), admin_token=admin_token, limits=limits or Limits())
    app = create_app(config, extra_routes=extra)
    app.state.studies = hosts

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        await run_in_threadpool(_warm_templates, app)
        committer = await run_in_threadpool(ShardCommitter) if hosts else None
        try:
            await run_in_threadpool(_open, root, hosts, models, window_s, takeover, committer)
            task = asyncio.create_task(_expire_forever(hosts))
            try:
                yield
            finally:
                task.cancel()
                await run_in_threadpool(_close, hosts)
        finally:
            if committer is not None:
                await run_in_threadpool(committer.close)

    app.router.lifespan_context = lifespan
    if play is not None:
        play.enable_play(app, models)  # wraps the lifespan above
    return app


def _with_models(
    source: str | Path | Mapping[str, Any], models: Mapping[str, Any] | None
) -> str | Path | Mapping[str, Any]:
    """The study with ``models`` among its own (so its roster may name their keys). Specs only:
    the study's record names what plays, so a built model object (whose spec is unknown) is
    refused rather than recorded as something else."""
    if not models:
        return source
    built = sorted(k for k, v in models.items() if not isinstance(v, str | Mapping))
    if built:
        raise ValueError(f"models: {built}: give model specs (strings or mappings), not objects")
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        data = read_study_yaml(Path(source))
        data.setdefault("name", Path(source).stem)
    data["models"] = {**(data.get("models") or {}), **models}
    return data


def _play_pages() -> Any:
    """The play pages module, when it is installed (it comes with its own routes)."""
    try:
        from sim.studio import play_pages
    except ImportError:
        return None
    if not hasattr(play_pages, "play_routes") or not hasattr(play_pages, "enable_play"):
        return None
    return play_pages


def _warm_templates(app: Starlette) -> None:
    """Compile the participant pages' templates now: else the first crowd to arrive compiles
    each of them once per concurrent request (Jinja caches only what a render finished)."""
    env = app.state.templates.env
    for name in env.list_templates(filter_func=lambda n: n.startswith(("study_", "_turn"))):
        env.get_template(name)


def _open(
    root: str | Path,
    hosts: Mapping[str, StudyHost],
    models: Mapping[str, Any] | None,
    window_s: float,
    takeover: bool,
    committer: ShardCommitter | None,
) -> None:
    opened: list[StudyHost] = []
    try:
        for name, host in hosts.items():
            host.manager = SessionManager(
                Path(root, name), host.study.experiment, models, window_s=window_s,
                takeover=takeover, committer=committer,
            )  # fmt: skip
            opened.append(host)
            resumed = host.manager.resume()
            if resumed:
                log.info("study %s: resumed %d unfinished episodes", name, len(resumed))
    except BaseException:
        _close({h.study.name: h for h in opened})
        raise


def _close(hosts: Mapping[str, StudyHost]) -> None:
    for host in hosts.values():
        manager, host.manager = host.manager, None
        if manager is not None:
            try:
                manager.close(wait_s=2.0)
            except Exception:  # one study's failure to close must not keep the others' leases
                log.exception("closing study %s", host.study.name)


async def _expire_forever(hosts: Mapping[str, StudyHost]) -> None:
    while True:
        await asyncio.sleep(EXPIRE_EVERY_S)
        for host in hosts.values():
            if host.manager is not None:
                await run_in_threadpool(host.expire)
