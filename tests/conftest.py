"""Test-session settings: one torch thread (stable on 2 shared cores), no Ray auth prompt."""

from __future__ import annotations

import os

os.environ.setdefault("MERCATO_TORCH_THREADS", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
