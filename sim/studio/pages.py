"""Rendering shared by every studio page: the Jinja2 templates (autoescaped, secrets scrubbed),
`render` with the common context, and the number formats of `mercato report`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from sim.llm.redact import redactor
from sim.studio.config import StudioConfig
from sim.studio.security import csrf_token, is_admin

TEMPLATES = Path(__file__).resolve().parent / "templates"


def templates(secrets: Sequence[str]) -> Jinja2Templates:
    """The page templates: autoescaped, and every value shown passes through `redact` (keys,
    bearer tokens and the values of key-named environment variables never reach a page)."""

    masked = redactor(secrets)

    def scrub(value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | jinja2.Undefined):
            return value
        if isinstance(value, markupsafe.Markup):
            return markupsafe.Markup(masked(str(value)))  # masks add no markup
        return masked(str(value))

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=scrub,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # the templates ship with the package: no stat per page
    )
    env.filters["num"] = number
    env.filters["pct"] = percent
    return Jinja2Templates(env=env)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page from ``templates/name`` with the common context (admin flag, CSRF token)."""
    config: StudioConfig = request.app.state.config
    context |= {
        "is_admin": is_admin(request, config),
        "token_set": config.admin_token is not None,
        "csrf_token": csrf_token(request),
    }
    return request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )


def number(value: Any) -> str:
    """A number as `mercato report` prints it (4 significant digits; ``-`` for none)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "-" if value is None else str(value)
    return "-" if value != value else f"{value:.4g}"


def percent(value: Any) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if value != value else f"{value:.0%}"
