"""Keep secrets out of messages: `redact` masks API keys and bearer tokens, `one_line` flattens.

Every error message, failure reason and log line the HTTP backend writes goes through `redact`,
server-supplied text included (reason phrases and bodies can echo the Authorization header);
`guard_logs` puts a redacting filter on the HTTP stack's own loggers (httpx, httpcore).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

MASK = "***"

_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[^\s\"',;}\]]+")
_SK_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-]{4,}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret in ``secrets``, every ``Bearer <token>`` and every
    ``sk-...``-style key replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _SK_KEY.sub(f"sk-{MASK}", text)


def redactor(secrets: Iterable[str | None] = ()) -> Callable[[str], str]:
    """`redact` with ``secrets`` fixed, for many texts (each value of a page): substring checks
    first, so text with nothing to hide is returned after a few ``in`` tests."""
    fixed = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def masked(text: str) -> str:
        if "sk-" in text or "bearer" in text.lower() or (fixed and any(s in text for s in fixed)):
            return redact(text, fixed)
        return text

    return masked


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with runs of whitespace (newlines included) collapsed to one space, cut at
    ``limit`` characters (with an ellipsis)."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 1)] + "…"
    return flat


def clean(text: str, secrets: Iterable[str | None] = (), limit: int | None = None) -> str:
    """`redact` then `one_line`: what may be shown of text a server sent."""
    return one_line(redact(str(text), secrets), limit)


HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
"""The loggers of the HTTP stack: they log reason phrases (which may echo a key) verbatim."""

_KNOWN_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with `redact` (registered secrets and key patterns)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return True
        with _SECRETS_LOCK:
            secrets = tuple(_KNOWN_SECRETS)
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactingFilter()


def guard_logs(secret: str | None = None) -> None:
    """Redact ``secret`` (and key patterns) from what the HTTP stack's loggers write.

    Filters act only on the logger a record is made on, so the filter goes on each of
    `HTTP_LOGGERS`. Idempotent; the secret is kept in memory only.
    """
    if secret:
        with _SECRETS_LOCK:
            _KNOWN_SECRETS.add(secret)
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
