"""The pages of a study with people: the open link, a participant's journey and the admin pages.

A participant holds one private link, ``/p/{token}``; the page it shows follows their status in the
`ParticipantBook`: consent -> instructions -> the game (their `PlaySession`, one turn panel per
decision) -> the completion code. Coming back with the link resumes where they were. Nothing on
these pages links elsewhere (no runs, no admin, no other participant), and the game shows only what
the participant's role sees: the protocol's rendering of its own observation and, at the end,
`PlaySession.outcome()`. Admin pages (``/admin/studies...``) need the admin token.

Handlers that wait for the episode's thread run in the thread pool; each study's book changes
under its host's lock (the book's writes are not thread-safe; its lookups are). A decision's POST
is answered with the page that follows it (the next turn, the wait or the code), not a redirect:
one round trip per decision; the page's script turns the history entry into a GET, so a reload
does not send the answer again (without script, a resent answer is refused as out of date).
"""

from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sim.studio.pages import render
from sim.studio.play import (
    ENDED_BADLY,
    FAILED,
    FINISHED_STATUS,
    WAITING,
    PlaySession,
    SessionManager,
)
from sim.studio.play_pages import NUMBER_FIELD, answer_values, turn_context
from sim.studio.security import admin_only, check_csrf
from sim.studio.studies import Participant, ParticipantBook, Study

EXPIRE_GAP_S = 1.0
"""Pages abandon idle participants at most this often (the server's own loop: every 30 s)."""
TOUCH_GAP_S = 5.0
"""How fresh a participant's saved idle clock may stay when they only move on in the game."""
TURN_WAIT_S = 3.0
"""How long a page waits for the others to move before it shows "please wait" (and reloads)."""
MAX_LINKS = 1000
STEP_FIELD = "step"
"""The hidden field saying which step of the journey a participant's form answers."""
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")


@dataclass
class StudyHost:
    """One study served: its book, and (while the server runs) the manager playing its episodes."""

    study: Study
    book: ParticipantBook
    manager: SessionManager | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    expired_at: float = -1e18
    """When `expire_now_and_then` last ran `expire` (monotonic seconds)."""

    def expire_now_and_then(self) -> list[Participant]:
        """`expire`, at most every `EXPIRE_GAP_S` (each page calls this; the limits it applies
        are minutes, and `expire` reads every participant under the lock)."""
        now = time.monotonic()
        if now - self.expired_at < EXPIRE_GAP_S:
            return []
        self.expired_at = now
        return self.expire()

    def expire(self) -> list[Participant]:
        """Abandon participants idle past the study's limit, and their sessions."""
        with self.lock:
            gone = self.book.expire()
        for person in gone:
            session = self.manager.session(person.episode_id) if self.manager else None
            if session is not None:
                session.abandon()
                session.join(2.0)  # the slot is free only once the episode's thread let go
        return gone

    def touch_due(self, person: Participant) -> bool:
        """Whether `touch` without changes would save ``person`` now (a write to disk)."""
        current = self.book.get(person.participant_id) or person
        return time.time() - current.updated_at >= TOUCH_GAP_S

    def touch(self, person: Participant, **changes: Any) -> Participant:
        """``person`` with ``changes`` saved (and their idle clock reset). Without changes the
        clock is saved at most every `TOUCH_GAP_S` (a durable write per decision would cost
        more than the decision; the idle limit is minutes)."""
        with self.lock:
            current = self.book.get(person.participant_id) or person
            if not changes and time.time() - current.updated_at < TOUCH_GAP_S:
                return current
            return self.book.update(current, **changes)


def hosts(request: Request) -> dict[str, StudyHost]:
    return request.app.state.studies


def routes() -> list[BaseRoute]:
    return [
        Route("/s/{study}", open_link, name="study_open"),
        Route("/p/{token}", participant_page, methods=["GET", "POST"], name="participant"),
        Route("/admin/studies", admin_only(admin_studies), name="admin_studies"),
        Route(
            "/admin/studies/{study}/links",
            admin_only(admin_links),
            methods=["POST"],
            name="admin_links",
        ),
        Route("/admin/studies/{study}/data", admin_only(admin_data), name="admin_data"),
    ]


def _host(request: Request) -> StudyHost:
    name = request.path_params["study"]
    host = hosts(request).get(name) if _NAME.match(name) else None
    if host is None:
        raise HTTPException(404, "no such study")
    return host


def _page(request: Request, name: str, host: StudyHost | None, status: int = 200, **ctx: Any):
    title = host.study.title if host is not None else "study"
    return render(request, name, status_code=status, title=title, **ctx)


# --- the open link ---


def open_link(request: Request) -> Response:
    """``/s/{study}``: enrol into the least-filled arm and go to the private link."""
    host = _host(request)
    host.expire_now_and_then()
    with host.lock:
        enrolled = host.book.enrol()
    if enrolled is None:
        return _page(request, "study_message.html", host, message="This study is full. Thank you.")
    _, token = enrolled
    return RedirectResponse(f"/p/{token}", status_code=303)


# --- a participant's journey ---


def _find(request: Request) -> tuple[StudyHost, Participant]:
    token = request.path_params["token"]
    if _TOKEN.match(token):
        for host in hosts(request).values():
            person = host.book.find(token)  # a read: needs no lock (see `ParticipantBook`)
            if person is not None:
                return host, person
    raise HTTPException(404, "this link is not valid")


async def participant_page(request: Request) -> Response:
    """``/p/{token}``: the page of the participant's current step; POSTs move them on."""
    form = await request.form() if request.method == "POST" else None
    if form is not None:
        answered = await _live_turn(request, form)
        if answered is not None:
            return answered
    return await run_in_threadpool(_journey, request, form)


async def _live_turn(request: Request, form: FormData) -> Response | None:
    """A decision in a live game, answered on the event loop: the values go to the session (a
    parse, no I/O: the episode's thread journals them), the page waits for the next decision
    without a worker thread and is rendered here. None (the thread pool's `_journey` answers)
    for anything else: another step, a game to start or resume, one not waiting for the person,
    a book save due."""
    if not _is_turn(form):
        return None
    host, person = _find(request)  # the book's current entry
    manager = host.manager
    session = manager.session(person.episode_id) if manager is not None else None
    if person.status != "playing" or session is None or session.status != WAITING:
        return None
    if host.touch_due(person):
        return None
    check_csrf(request, form)
    error = _submit_to(session, form)
    if error is None:
        await session.wait_async(TURN_WAIT_S)
        if session.status != WAITING:  # the end (whose code is saved) or still thinking
            return await run_in_threadpool(_show, request, host, person, None)
    return _show(request, host, person, error, wait=False)


def _is_turn(form: FormData) -> bool:
    """Whether ``form`` answers a game turn (its step, or a turn form's decision number)."""
    step = str(form.get(STEP_FIELD, ""))
    return step == "turn" or (not step and NUMBER_FIELD in form)


def _journey(request: Request, form: FormData | None) -> Response:
    host, person = _find(request)
    host.expire_now_and_then()
    person = host.book.get(person.participant_id) or person
    if person.status == "invited":  # a private link's first opening starts its idle clock
        person = host.touch(person, status="enrolled")
    if host.manager is None:
        return _page(request, "study_message.html", host, 503, message="The study is closed.")
    error: str | None = None
    if form is not None:
        check_csrf(request, form)
        step = str(form.get(STEP_FIELD, ""))
        if step == "consent" and person.status == "enrolled":
            host.touch(person, status="consented")
        elif step == "start" and person.status == "consented":
            host.touch(person, status="playing")
        elif _is_turn(form) and person.status == "playing":
            error = _submit(host, person, form)
            if error is None:  # the next turn's page answers the POST: one round trip a decision
                person = host.book.get(person.participant_id) or person
                return _show(request, host, person, None)
        if error is None:
            return RedirectResponse(request.url.path, status_code=303)
        person = host.book.get(person.participant_id) or person
    return _show(request, host, person, error)


def _show(
    request: Request, host: StudyHost, person: Participant, error: str | None, wait: bool = True
) -> Response:
    study = host.study
    if person.status == "enrolled":
        return _page(request, "study_consent.html", host, text=study.fields.consent)
    if person.status == "consented":
        return _page(request, "study_instructions.html", host, text=study.fields.instructions)
    if person.status == "abandoned":
        return _page(request, "study_message.html", host, 410,
                     message="This link has expired: the study was left unfinished.")  # fmt: skip
    if person.status == "completed":
        return _page(request, "study_done.html", host, code=person.completion_code, outcome=None)
    session = _session(host, person)
    if session is None:  # recorded before the book heard of it (a restart in between)
        person = host.touch(person, status="completed")
        return _page(request, "study_done.html", host, code=person.completion_code, outcome=None)
    if error is None and wait:
        session.wait(TURN_WAIT_S)
    if session.status == FINISHED_STATUS:
        person = host.touch(person, status="completed")
        outcome = session.outcome()
        return _page(request, "study_done.html", host, code=person.completion_code,
                     outcome=outcome.text if outcome else None)  # fmt: skip
    if session.status in ENDED_BADLY:
        code = 500 if session.status == FAILED else 410
        return _page(request, "study_message.html", host, code,
                     message="This game cannot go on. Please contact the researchers.")  # fmt: skip
    pending = session.pending()
    if pending is None:
        return _page(request, "study_wait.html", host, status=200)
    return _page(request, "study_play.html", host, turn=turn_context(session, error))


def _session(host: StudyHost, person: Participant) -> PlaySession | None:
    """The participant's live session (started or resumed here); None once it is recorded."""
    manager = host.manager
    assert manager is not None
    live = manager.session(person.episode_id)
    if live is not None and live.status not in ENDED_BADLY:
        return live  # as `start` would return it, without waiting for the locks
    _, shard_id = manager.plan[(person.arm, person.episode_index)]
    if shard_id in manager.recorded:
        return None
    with host.lock:
        return manager.start(person.arm, person.episode_index, host.study.agent)


def _submit(host: StudyHost, person: Participant, form: FormData) -> str | None:
    """Hand the turn's values to the session: None when taken, else the message to show."""
    session = _session(host, person)
    if session is None:
        return None
    error = _submit_to(session, form)
    if error is None:
        host.touch(person)
    return error


def _submit_to(session: PlaySession, form: FormData) -> str | None:
    try:
        number = int(str(form.get(NUMBER_FIELD, "")))
    except ValueError:
        return "this form is out of date: answer the current decision"
    return session.submit(answer_values(form, skip=(STEP_FIELD,)), number)


# --- admin ---


def admin_studies(request: Request) -> Response:
    """``/admin/studies``: each study's participants per arm and status."""
    rows = []
    for name, host in hosts(request).items():
        host.expire()
        with host.lock:
            progress = host.book.progress()
        rows.append((name, host.study.title, progress, host.manager is not None))
    return render(request, "study_admin.html", studies=rows, links=None, study=None)


async def admin_links(request: Request) -> Response:
    """``POST /admin/studies/{study}/links``: N new private links, shown once."""
    host = _host(request)
    form = await request.form()
    check_csrf(request, form)
    try:
        count = int(str(form.get("count", "")))
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_LINKS:
        raise HTTPException(400, f"count: a whole number from 1 to {MAX_LINKS}")
    links = []
    with host.lock:
        for _ in range(count):
            enrolled = host.book.enrol(invited=True)
            if enrolled is None:
                break
            person, token = enrolled
            links.append((person.arm, str(request.url_for("participant", token=token))))
    return render(request, "study_admin.html", studies=[], links=links, study=host.study.name)


def admin_data(request: Request) -> Response:
    """``/admin/studies/{study}/data``: the study run's episodes as CSV."""
    from sim.store import load_episodes

    host = _host(request)
    if host.manager is None:
        raise HTTPException(503, "the study is closed")
    episodes = load_episodes(host.manager.run_dir.location)
    buffer = io.StringIO()
    episodes.to_csv(buffer, index=False)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"content-disposition": f'attachment; filename="{host.study.name}-{stamp}.csv"'},
    )
