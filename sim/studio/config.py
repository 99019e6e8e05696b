"""What a studio server is configured with: the runs root, the admin token and request limits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Request limits per server: body size, and a token bucket of requests per client."""

    max_body_bytes: int = 256 * 1024
    requests_per_s: float = 50.0
    burst: int = 200
    """How many requests a client may send at once before ``requests_per_s`` applies."""
    max_depth: int = 4
    """How deep under the root the runs page looks for run directories (suites nest runs)."""
    max_episode_rows: int = 500
    """Episodes listed on one page of a run's episode table."""


@dataclass(frozen=True)
class StudioConfig:
    """A studio server: ``root`` holds run directories (a local folder or a store URI such as
    ``s3://bucket/prefix``); ``admin_token`` None means local use (every page open), else the
    admin pages need it (cookie set by the ``/login`` form or an ``Authorization: Bearer``
    header)."""

    root: str
    admin_token: str | None = None
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.admin_token is not None and len(self.admin_token) < 8:
            raise ValueError("admin_token: use at least 8 characters (or none for local use)")
