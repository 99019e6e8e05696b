"""The admin login: a form that takes the admin token in a POST body (never in a URL, where
browser history, proxies and access logs would keep it) and sets the admin cookie."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sim.studio.config import StudioConfig
from sim.studio.pages import render
from sim.studio.security import ADMIN_COOKIE, check_csrf

TOKEN_FIELD = "token"


async def login(request: Request) -> Response:
    """``GET /login``: the form; ``POST /login``: check the token, set the cookie, go home.
    A ``?token=`` in the URL is never read: the page says to use the form."""
    config: StudioConfig = request.app.state.config
    if config.admin_token is None:
        return RedirectResponse("/", status_code=303)
    if request.method == "GET":
        error = None
        if TOKEN_FIELD in request.query_params:
            error = "a token in the address is not accepted: type it here instead"
        return render(request, "login.html", status_code=400 if error else 200, error=error)
    form = await request.form()
    check_csrf(request, form)
    offered = str(form.get(TOKEN_FIELD, ""))
    if not hmac.compare_digest(offered.encode(), config.admin_token.encode()):
        return render(request, "login.html", status_code=401, error="wrong token")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(ADMIN_COOKIE, offered, httponly=True, samesite="strict", path="/")
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response


def routes() -> list[Route]:
    return [
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, name="logout"),
    ]
