"""Small run directories for the studio's page and security tests (made once per module)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SECRET_ENV = "STUDIO_TEST_API_KEY"
SECRET = "zz-studio-secret-4f2a9c81e7"


def bargaining(**changes: Any) -> dict[str, Any]:
    """Scripted bargaining (two cells) plus one cell where the fake LLM plays Bob."""
    data: dict[str, Any] = {
        "name": "studio-bargain",
        "env": "mercato/Bargaining-v0",
        "params": {"money": 10000, "horizon": 4},
        "grid": {"discount_bob": [0.8, 0.95]},
        "roster": {"alice": "bargaining/equilibrium", "bob": "bargaining/even-split"},
        "cells": [
            {"discount_bob": 0.9, "roster": {"bob": {"policy": "llm", "model": "fk"}}},
        ],
        "models": {"fk": "fake"},
        "episodes": 3,
        "seed": 0,
        "shard_size": 3,
    }
    data.update(changes)
    return data


def make_root(root: Path) -> Path:
    """``root`` with a run, a suite holding a run whose LLM leaks a secret in its replies, and a
    folder with a broken manifest."""
    import sim

    sim.run(bargaining(), workers=0, out=str(root / "bargain"))
    leaky = bargaining(
        name="leaky",
        models={"fk": {"backend": "fake", "responses": {"*": f"my key is {SECRET}"}}},
        max_fallback_rate=1.0,
        grid={},
        episodes=1,
    )
    sim.run(leaky, workers=0, out=str(root / "suite" / "leaky"))
    manifest_path = root / "suite" / "leaky" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["experiment"]["models"]["remote"] = {
        "backend": "openai",
        "model": "gpt-test",
        "base_url": f"https://user:{SECRET}@llm.example/v1?api_key={SECRET}",
        "api_key_env": SECRET_ENV,
    }
    manifest_path.write_text(json.dumps(manifest))
    broken = root / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    return root


def log_in(client: Any, token: str, follow_redirects: bool = True) -> Any:
    """Log ``client`` in through the login form (GET for its CSRF token, then POST)."""
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    data = {"csrf_token": found.group(1), "token": token}
    return client.post("/login", data=data, follow_redirects=follow_redirects)
