"""Where mercato keeps things outside the repository: the cache root (``MERCATO_CACHE``)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache directory: ``$MERCATO_CACHE`` if set, else ``~/.cache/mercato``."""
    env = os.environ.get("MERCATO_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mercato"


def models_dir() -> Path:
    """Where converted local models live: ``<cache>/models``."""
    return cache_root() / "models"
