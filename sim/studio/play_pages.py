"""Playing any registered env in the browser: choose a role and opponents, then turn pages.

``GET /play`` (admin) offers every registered env, its roles and, for every other role, the
env's registered policies or ``llm`` with one of the configured models (shown by key only);
``POST /play`` makes a one-episode play run under ``ROOT/play/`` and starts a `PlaySession`
(`sim.studio.play`). ``/play/{session_id}`` is the turn page: the role's instructions, the
observation text its protocol renders and the decision's form controls (`sim.studio.forms`);
the session id is a random capability, so an admin may hand the link to the person who plays.
The turn partial (``_turn.html`` with `turn_context`) is shared with the study pages.
"""

from __future__ import annotations

import inspect
import json
import secrets
import threading
import time
from collections.abc import Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sim.studio.forms import (
    Choice,
    Control,
    MultiChoice,
    Number,
    OptionalGroup,
    Rows,
    Text,
    Variant,
    plain_number,
)
from sim.studio.pages import render
from sim.studio.play import THINKING, WAITING, PlaySession, SessionManager
from sim.studio.security import CSRF_FIELD, RunPaths, admin_only, check_csrf

LLM = "llm"
HUMAN = "human"
PLAY_DIR = "play"
MAX_SEED = 2**31 - 1
MAX_PARAMS_CHARS = 4000
THINK_WAIT_S = 1.0
"""How long a page waits for the opponents before it shows 'thinking' (and refreshes)."""
RADIO_MAX = 6
"""Choices with more options than this show as a select."""


@dataclass
class PlayEntry:
    """A game started from ``/play``: its manager (one run directory) and session."""

    session_id: str
    env_id: str
    rel: str
    manager: SessionManager
    session: PlaySession
    closed: threading.Event = field(default_factory=threading.Event)
    """Set once the manager is closed (the run's manifest is final, its lease released)."""
    closing: bool = False
    closed_at: float | None = None
    """When the manager was closed (monotonic seconds)."""


KEEP_FINISHED_S = 3600.0
"""How long a finished game's page stays after it ended (its run stays on disk for good)."""


class PlayRegistry:
    """The games of one server, by session id; ``models`` are the configured model specs.
    A finished game is forgotten ``keep_finished_s`` after it ended (its page then answers 404;
    its run is under ``play/``), so a long-lived server does not hold every game it played."""

    def __init__(
        self,
        paths: RunPaths,
        models: Mapping[str, Any] | None = None,
        keep_finished_s: float = KEEP_FINISHED_S,
    ) -> None:
        self.paths = paths
        self.models = dict(models or {})
        self.keep_finished_s = keep_finished_s
        self.entries: dict[str, PlayEntry] = {}
        self._roles: dict[str, dict[str, list[str]]] = {}
        self._lock = threading.Lock()

    def roles(self, env_id: str) -> dict[str, list[str]]:
        """Role -> its agents, in the env's order (from an env with default parameters)."""
        from envs.core.names import role_of
        from envs.core.registry import make_env

        with self._lock:
            if env_id not in self._roles:
                out: dict[str, list[str]] = {}
                for agent in make_env(env_id).possible_agents:
                    out.setdefault(role_of(agent), []).append(agent)
                self._roles[env_id] = out
            return self._roles[env_id]

    def opponents(self, env_id: str) -> list[tuple[str, str]]:
        """(value, label) of every opponent the form offers: policies that need no options,
        then ``llm:<model key>`` per configured model."""
        from agents.registry import list_policies

        out = []
        for info in list_policies(env_id):
            if info.name in (HUMAN, LLM) or _needs_options(info.factory):
                continue
            out.append((info.name, f"{info.name}: {info.summary}" if info.summary else info.name))
        out += [(f"{LLM}:{key}", f"LLM ({key})") for key in sorted(self.models)]
        return out

    def create(
        self,
        env_id: str,
        role: str,
        opponents: Mapping[str, str],
        seed: int,
        params: Mapping[str, Any],
    ) -> PlayEntry:
        """Make the play run and start its one episode with the person as ``role``."""
        from sim.engine.experiment import load_experiment

        roles = self.roles(env_id)
        agent = roles[role][0]
        roster: dict[str, Any] = {}
        models: dict[str, Any] = {}
        for other, choice in opponents.items():  # the person's sole-agent role is not in it
            if choice.startswith(f"{LLM}:"):
                key = choice.split(":", 1)[1]
                roster[other] = {"policy": LLM, "model": key}
                models[key] = self.models[key]
            else:
                roster[other] = choice
        roster[agent] = HUMAN
        short = env_id.rsplit("/", 1)[-1]
        experiment = load_experiment(
            {
                "name": f"play-{short}",
                "env": env_id,
                "params": dict(params),
                "roster": roster,
                "models": {k: v for k, v in models.items() if isinstance(v, str | Mapping)},
                "episodes": 1,
                "shard_size": 1,
                "seed": seed,
            }
        )
        name = f"{short}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        rel = f"{PLAY_DIR}/{name}"
        manager = SessionManager(Path(self.paths.root.root) / PLAY_DIR / name, experiment,
                                 self.models)  # fmt: skip
        try:
            session = manager.start(experiment.cells()[0].cell_id, 0, agent)
        except Exception:
            manager.close()
            raise
        entry = PlayEntry(secrets.token_urlsafe(16), env_id, rel, manager, session)
        with self._lock:
            now = time.monotonic()
            for old in [e for e in self.entries.values() if e.closed_at is not None]:
                if now - old.closed_at > self.keep_finished_s:
                    del self.entries[old.session_id]
            self.entries[entry.session_id] = entry
        threading.Thread(target=self._close_when_done, args=(entry,), daemon=True).start()
        return entry

    def get(self, session_id: str) -> PlayEntry | None:
        with self._lock:
            return self.entries.get(session_id)

    def _close_when_done(self, entry: PlayEntry) -> None:
        entry.session.join()
        self._close(entry)

    def _close(self, entry: PlayEntry) -> None:
        with self._lock:
            if entry.closing:
                return
            entry.closing = True
        try:
            entry.manager.close()
        finally:
            entry.closed_at = time.monotonic()
            entry.closed.set()

    def close(self) -> None:
        """Stop every live game (its journal stays for a resume) and release the runs."""
        for entry in list(self.entries.values()):
            self._close(entry)


def _needs_options(factory: Any) -> bool:
    """Whether a policy factory has a required option (the form offers none)."""
    params = inspect.signature(factory).parameters.values()
    return any(
        p.default is inspect.Parameter.empty and p.name not in ("env", "seed")
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in params
    )  # fmt: skip


def enable_play(app: Starlette, models: Mapping[str, Any] | None = None) -> PlayRegistry:
    """Keep a `PlayRegistry` on ``app.state.play`` (closed when the server stops); the app
    needs `play_routes` among its ``extra_routes``."""
    import agents  # noqa: F401  (registers the scripted policies)

    registry = PlayRegistry(app.state.paths, models)
    app.state.play = registry
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> Any:
        async with inner(target) as state:
            try:
                yield state
            finally:
                await run_in_threadpool(registry.close)

    app.router.lifespan_context = lifespan
    return registry


# --- the turn partial ---


def turn_context(
    session: PlaySession, error: str | None = None, values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What ``_turn.html`` shows of ``session`` now: only what the person's role may see (the
    pending decision's text, instructions and form, or the outcome), the last error, and
    ``values`` to refill the form with after a refused submission."""
    pending = session.pending()
    status = session.status
    outcome = session.outcome()
    context: dict[str, Any] = {
        "status": status,
        "error": error,
        "agent": session.agent,
        "refresh": status in (THINKING, WAITING) and pending is None,
        "pending": None,
        "controls": [],
        "buttons": [],
        "outcome": None,
        "failure": session.error if status == "failed" else None,
    }
    if pending is not None:
        form = pending.form
        given = dict(values or {})
        context["pending"] = {
            "number": pending.number,
            "text": pending.text,
            "instructions": pending.instructions,
        }
        if form.buttons:
            context["buttons"] = _options(form.controls[0])  # type: ignore[arg-type]
        else:
            context["controls"] = [_view(c, given, True) for c in form.controls]
    if outcome is not None:
        context["outcome"] = {"text": outcome.text, "reward": outcome.reward}
    return context


def _options(control: Choice | MultiChoice) -> list[dict[str, str]]:
    return [
        {"value": v, "label": str(lab)}
        for v, lab in zip(control.texts(), control.labels, strict=True)
    ]


def _view(control: Control, given: Mapping[str, Any], top: bool) -> dict[str, Any]:
    """A control as the template draws it (``required`` only outside variants' branches,
    whose hidden fields must not block the browser's validation; inside them a field that
    needs a value is marked, and the page's script requires it while its branch shows)."""
    value = given.get(control.name, "")
    view: dict[str, Any] = {
        "kind": control.kind,
        "name": control.name,
        "id": "f-" + control.name.replace(".", "-"),
        "label": control.label or control.name or "reply",
        "value": value if isinstance(value, str) else "",
        "chosen": list(value) if isinstance(value, list | tuple) else [value],
    }
    if isinstance(control, Choice):
        view |= {"options": _options(control), "nullable": control.nullable,
                 "required": top and not control.nullable,
                 "select": len(control.options) > RADIO_MAX}  # fmt: skip
    elif isinstance(control, Number):
        step = "any" if control.step is None else plain_number(control.step)
        view |= {"min": plain_number(control.minimum), "max": plain_number(control.maximum),
                 "step": step, "required": top and not control.nullable,
                 "nullable": control.nullable}  # fmt: skip
    elif isinstance(control, Text):
        view |= {"max_length": control.max_length}
    elif isinstance(control, MultiChoice):
        view |= {"options": _options(control), "min_items": control.min_items,
                 "max_items": control.max_items}  # fmt: skip
    elif isinstance(control, OptionalGroup):
        view |= {"controls": [_view(c, given, False) for c in control.controls]}
    elif isinstance(control, Rows):
        view |= {"rows": [_view(r, given, False) for r in control.rows],
                 "min_items": control.min_items, "max_items": control.max_items}  # fmt: skip
    elif isinstance(control, Variant):
        key = _view(control.key, given, top)
        key["variant_key"] = True
        view |= {
            "key": key,
            "branches": [
                {
                    "values": "|".join(Choice("", b.values, b.values).texts()),
                    "controls": [_view(c, given, False) for c in b.controls],
                }
                for b in control.branches
            ],
        }
    return view


# --- pages ---


def registry_of(request: Request) -> PlayRegistry:
    registry = getattr(request.app.state, "play", None)
    if registry is None:
        raise HTTPException(404, "play is not enabled on this server")
    return registry


def new_game_view(request: Request) -> Response:
    """``GET /play``: the env, then its role, opponents, seed and parameters."""
    return _new_game(request, request.query_params.get("env", ""), {}, None, 200)


def _new_game(
    request: Request, env_id: str, chosen: Mapping[str, str], error: str | None, status: int
) -> Response:
    from envs.core.registry import list_envs

    registry = registry_of(request)
    envs = list_envs()
    known = {spec.id for spec in envs}
    roles: dict[str, list[str]] = {}
    if env_id in known:
        roles = registry.roles(env_id)
    else:
        env_id = ""
    return render(
        request,
        "play_new.html",
        status_code=status,
        envs=envs,
        env_id=env_id,
        roles=roles,
        opponents=registry.opponents(env_id) if env_id else [],
        chosen=chosen,
        error=error,
    )


async def new_game(request: Request) -> Response:
    """``POST /play``: check the choices, make the play run, go to its turn page."""
    form = await request.form()
    check_csrf(request, form)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    registry = registry_of(request)
    env_id = values.get("env", "")
    try:
        role, opponents, seed, params = await run_in_threadpool(_read_new_game, registry, values)
    except ValueError as problem:
        return await run_in_threadpool(_new_game, request, env_id, values, str(problem), 400)
    if not registry.paths.root.local:
        return render(
            request,
            "error.html",
            status_code=400,
            message=f"play runs are written under a local runs root; {registry.paths.root.uri} "
            "is not local (serve a local folder to play)",
        )
    try:
        entry = await run_in_threadpool(registry.create, env_id, role, opponents, seed, params)
    except ValueError as problem:
        message = " ".join(str(problem).split())
        return await run_in_threadpool(_new_game, request, env_id, values, message, 400)
    return RedirectResponse(f"/play/{entry.session_id}", status_code=303)


def _read_new_game(
    registry: PlayRegistry, values: Mapping[str, str]
) -> tuple[str, dict[str, str], int, dict[str, Any]]:
    """The validated choices of the new-game form (`ValueError` naming the field if not)."""
    from envs.core.registry import list_envs

    env_id = values.get("env", "")
    if env_id not in {spec.id for spec in list_envs()}:
        raise ValueError(f"env: {env_id[:80]!r} is not a registered env")
    roles = registry.roles(env_id)
    role = values.get("role", "")
    if role not in roles:
        raise ValueError(f"role: choose one of {sorted(roles)}")
    offered = {value for value, _ in registry.opponents(env_id)}
    opponents = {}
    for other, agents in roles.items():
        if other == role and len(agents) == 1:
            continue
        choice = values.get(f"opponent_{other}", "")
        if choice not in offered:
            raise ValueError(f"opponent for {other}: {choice[:80]!r} is not offered")
        opponents[other] = choice
    seed_text = values.get("seed", "").strip()
    if not seed_text:
        seed = secrets.randbelow(MAX_SEED)
    elif seed_text.isdigit() and int(seed_text) <= MAX_SEED:
        seed = int(seed_text)
    else:
        raise ValueError(f"seed: a whole number from 0 to {MAX_SEED}, or empty for a random one")
    params_text = values.get("params", "").strip()
    if len(params_text) > MAX_PARAMS_CHARS:
        raise ValueError(f"params: at most {MAX_PARAMS_CHARS} characters")
    try:
        params = json.loads(params_text) if params_text else {}
    except json.JSONDecodeError as problem:
        raise ValueError(f"params: not JSON ({problem.msg})") from None
    if not isinstance(params, dict):
        raise ValueError('params: a JSON object such as {"horizon": 4}')
    return role, opponents, seed, params


def _entry(request: Request) -> PlayEntry:
    entry = registry_of(request).get(request.path_params["session_id"])
    if entry is None:
        raise HTTPException(404, "no such game (a finished one shows for an hour; its run stays)")
    return entry


def _turn_page(
    request: Request,
    entry: PlayEntry,
    error: str | None = None,
    values: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    session = entry.session
    if session.status == THINKING and error is None:
        session.wait(THINK_WAIT_S)
    turn = turn_context(session, error, values)
    replay = None
    if turn["outcome"] is not None:
        replay = f"/runs/{entry.rel}/episodes/{session.episode_id}"
    return render(request, "play.html", status_code=status_code, turn=turn, env_id=entry.env_id,
                  replay_url=replay)  # fmt: skip


async def turn_view(request: Request) -> Response:
    """``GET /play/{session_id}``: the person's turn (or the opponents' thinking, or the end)."""
    entry = _entry(request)
    return await run_in_threadpool(_turn_page, request, entry)


async def submit_turn(request: Request) -> Response:
    """``POST /play/{session_id}``: the person's answer to the pending decision."""
    entry = _entry(request)
    form = await request.form()
    check_csrf(request, form)
    number_text = str(form.get(NUMBER_FIELD, ""))
    return await run_in_threadpool(_submit, request, entry, number_text, answer_values(form))


NUMBER_FIELD = "number"
"""The hidden field carrying the number of the decision a turn form answers."""


def answer_values(form: FormData, skip: tuple[str, ...] = ()) -> dict[str, str | list[str]]:
    """A turn form's answer fields (name -> text, or texts for a field sent several times),
    without the CSRF token, the decision number and ``skip``."""
    values: dict[str, str | list[str]] = {}
    for key in form:
        if key in (CSRF_FIELD, NUMBER_FIELD, *skip):
            continue
        given = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = given[0] if len(given) == 1 else given
    return values


def _submit(
    request: Request, entry: PlayEntry, number_text: str, values: dict[str, Any]
) -> Response:
    session = entry.session
    pending = session.pending()
    if not number_text.isdigit() or pending is None or pending.number != int(number_text):
        message = "this decision was already made (or the game moved on): here is the current one"
        return _turn_page(request, entry, message, status_code=409)
    error = session.submit(values, pending.number)
    if error is not None:
        return _turn_page(request, entry, error, values)
    return _turn_page(request, entry)  # what follows the answer, in the same round trip


def play_routes() -> list[Route]:
    """The play pages, for `create_app`'s ``extra_routes`` (with `enable_play` on the app)."""
    return [
        Route("/play", admin_only(new_game_view), methods=["GET"], name="play_new"),
        Route("/play", admin_only(new_game), methods=["POST"], name="play_create"),
        Route("/play/{session_id}", turn_view, methods=["GET"], name="play_turn"),
        Route("/play/{session_id}", submit_turn, methods=["POST"], name="play_submit"),
    ]
