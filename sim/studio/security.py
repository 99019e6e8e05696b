"""What keeps a studio server safe to face the public: run paths that never leave the root,
security headers, body-size and rate limits, the admin token, CSRF tokens and secret scrubbing.

Every page that names a run goes through `RunPaths.resolve` (404 for anything outside the
root); every response gets a strict CSP (no inline script: JS lives in static/studio.js).
"""

from __future__ import annotations

import functools
import hmac
import inspect
import os
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim.store.storage import Location, child_uri
from sim.studio.config import Limits, StudioConfig

ADMIN_COOKIE = "studio_admin"
CSRF_COOKIE = "studio_csrf"
CSRF_FIELD = "csrf_token"
MANIFEST = "manifest.json"
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)  # fmt: skip
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-=+@,]*$")
"""A path segment a run may be named by: no dot-files, no separators, no percent or control
characters (so no encoded tricks survive decoding)."""
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)


def not_found() -> HTTPException:
    return HTTPException(404, "not found")


class RunPaths:
    """Run directories under one root, named by a relative path of safe segments."""

    def __init__(self, root: str) -> None:
        self.root = Location.of(root)
        self._local_root = Path(self.root.root).resolve() if self.root.local else None

    def clean(self, rel: str) -> str:
        """``rel`` as a normalised relative path, or 404 (``..``, absolute, odd characters);
        ``.`` names the root itself (a root that is one run)."""
        if rel == ".":
            return rel
        if not rel or len(rel) > 1024 or "\\" in rel or rel.startswith("/"):
            raise not_found()
        parts = rel.strip("/").split("/")
        if not all(_SEGMENT.match(part) for part in parts):
            raise not_found()
        return str(PurePosixPath(*parts))

    def location(self, rel: str) -> Location:
        """The run directory ``rel`` under the root: 404 unless it is inside the root (symlinks
        resolved) and holds a manifest."""
        rel = self.clean(rel)
        if self._local_root is not None:
            target = (self._local_root / rel).resolve()
            if not target.is_relative_to(self._local_root) or not (target / MANIFEST).is_file():
                raise not_found()
            if (target / MANIFEST).resolve().parent != target:
                raise not_found()  # a manifest symlinked in from elsewhere
            return Location.of(str(target))
        location = self.root if rel == "." else Location.of(child_uri(self.root.spec, rel))
        if not location.is_file(MANIFEST):
            raise not_found()
        return location

    def relative(self, location: Location) -> str:
        """The path of a run under the root, as URLs name it."""
        return location.root[len(self.root.root) :].strip("/") or "."


# --- admin token ---


def is_admin(request: Request, config: StudioConfig) -> bool:
    """True when no token is configured, or the request carries it (cookie or Bearer)."""
    token = config.admin_token
    if token is None:
        return True
    offered = request.cookies.get(ADMIN_COOKIE, "")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        offered = header[7:].strip()
    return hmac.compare_digest(offered.encode(), token.encode())


Handler = Callable[[Request], Awaitable[Response]]


def admin_only(handler: Callable[[Request], Any]) -> Handler:
    """Wrap a route handler (async, or sync: then it runs in the thread pool, since pages read
    Parquet) so that it answers 401 without the admin token."""
    from starlette.concurrency import run_in_threadpool

    is_async = inspect.iscoroutinefunction(handler)

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if not is_admin(request, request.app.state.config):
            return PlainTextResponse(
                "admin token required: log in at /login or send Authorization: Bearer <token>",
                status_code=401,
            )
        if is_async:
            return await handler(request)
        return await run_in_threadpool(handler, request)

    return guarded


# --- CSRF (double submit: a random cookie echoed in every POST form) ---


def csrf_token(request: Request) -> str:
    """The CSRF token for forms on this page (the cookie's, or a new one that
    `SecurityMiddleware` sets on the response)."""
    token = request.cookies.get(CSRF_COOKIE) or request.scope.get("studio.csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.scope["studio.csrf"] = token
    return token


def check_csrf(request: Request, form: Any) -> None:
    """403 unless the form's token equals the cookie's (call on every POST)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get(CSRF_FIELD, "")) if form is not None else ""
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")


# --- secrets ---


def secret_values(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Values of environment variables named like keys or tokens: never sent in a response."""
    environ = dict(os.environ) if environ is None else environ
    return tuple(v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= 8)


# --- headers, body size and rate limits ---


class SecurityMiddleware:
    """Pure ASGI middleware: security headers and the CSRF cookie on every response, 413 for
    bodies over the limit, 429 for a client over its request rate."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _allowed(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.limits.burst), now))
            tokens = min(self.limits.burst, tokens + (now - last) * self.limits.requests_per_s)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return False
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:  # forget idle clients
                self._buckets = {client: self._buckets[client]}
            return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        if not self._allowed(client):
            await _plain(send, 429, "too many requests: slow down")
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        limit = self.limits.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _plain(send, 413, "request body too large")
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, "request body too large")
            return message

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                token = scope.get("studio.csrf")
                if token:
                    cookie = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
                    extra.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, limited_receive, secured_send)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
