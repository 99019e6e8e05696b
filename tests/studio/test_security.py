"""What keeps the studio safe to serve: paths stay under the root, the admin token, headers,
request limits, CSRF, and no secret in any response."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from sim.studio.app import create_app
from sim.studio.config import Limits, StudioConfig
from sim.studio.security import RunPaths, check_csrf
from tests.studio.studio_runs import SECRET, SECRET_ENV, log_in, make_root

TOKEN = "admin-token-1234"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("studio-sec")
    (base / "outside").mkdir()
    (base / "outside" / "manifest.json").write_text('{"run_id": "x", "name": "outside"}')
    return make_root(base / "root")


@pytest.fixture(scope="module")
def client(root: Path) -> TestClient:
    return TestClient(create_app(StudioConfig(root=str(root))))


TRAVERSALS = [
    "/runs/..", "/runs/../outside", "/runs/%2e%2e/outside", "/runs/%2E%2E%2Foutside",
    "/runs/bargain/..%2f..%2foutside", "/runs//etc", "/runs/%2fetc", "/runs/bargain%00",
    "/runs/.hidden", "/runs/bargain/../../outside/episodes/x", "/runs/..%5coutside",
    "/runs/outside-link", "/runs/outside-link/plots/deal.png", "/runs/bargain/steps",
]  # fmt: skip


def raw_status(app: object, raw: str) -> int:
    """The status the app answers to a GET of ``raw`` exactly as sent (an HTTP client would
    normalise ``..`` away first); the path is decoded as servers decode it."""
    from urllib.parse import unquote

    import anyio

    sent: list[dict] = []
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": unquote(raw), "raw_path": raw.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }  # fmt: skip

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)  # type: ignore[arg-type]
    return sent[0]["status"]


def test_paths_outside_the_root_are_404(client: TestClient, root: Path) -> None:
    (root / "outside-link").symlink_to(root.parent / "outside", target_is_directory=True)
    assert raw_status(client.app, "/runs/bargain") == 200
    for url in TRAVERSALS:
        assert raw_status(client.app, url) == 404, url
    paths = RunPaths(str(root))
    for rel in ("..", "../outside", "/etc", "a/../../outside", "bargain/./..", "a\\b", "%2e%2e"):
        with pytest.raises(HTTPException):
            paths.location(rel)
    assert paths.location("bargain").root == str((root / "bargain").resolve())


def test_admin_token_is_required_when_set(root: Path) -> None:
    client = TestClient(create_app(StudioConfig(root=str(root), admin_token=TOKEN)))
    for url in ("/", "/runs/bargain", "/runs/bargain/plots/deal.png"):
        assert client.get(url).status_code == 401, url
    assert client.get("/", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert log_in(client, "wrong").status_code == 401
    assert client.get("/").status_code == 401
    in_url = client.get(f"/login?token={TOKEN}", follow_redirects=False)  # never read from a URL
    assert in_url.status_code == 400 and "studio_admin" not in in_url.headers.get("set-cookie", "")
    assert client.get("/").status_code == 401
    no_csrf = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert no_csrf.status_code == 403
    login = log_in(client, TOKEN, follow_redirects=False)
    assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
    assert client.get("/").status_code == 200
    assert client.get("/runs/bargain").status_code == 200
    client.get("/logout")
    assert client.get("/").status_code == 401


def test_security_headers_and_no_inline_script(client: TestClient) -> None:
    for url in ("/", "/runs/bargain", "/static/studio.css"):
        response = client.get(url)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        # every script is a file: no inline <script> body and no on* handler attributes
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)
        assert not re.search(r"\son[a-z]+\s*=", response.text)


def test_request_limits(root: Path) -> None:
    limits = Limits(max_body_bytes=100, requests_per_s=1.0, burst=3)
    client = TestClient(create_app(StudioConfig(root=str(root), limits=limits)))
    assert client.post("/login", content=b"x" * 1000).status_code == 413
    statuses = [client.get("/static/studio.css").status_code for _ in range(6)]
    assert statuses[:2] == [200, 200] and 429 in statuses


def test_csrf_check() -> None:
    from starlette.requests import Request

    def request(cookie: str | None) -> Request:
        headers = [(b"cookie", f"studio_csrf={cookie}".encode())] if cookie else []
        return Request({"type": "http", "headers": headers})

    check_csrf(request("abc123"), {"csrf_token": "abc123"})
    for cookie, form in (("abc123", {"csrf_token": "abc124"}), (None, {"csrf_token": ""}),
                         ("abc123", {})):  # fmt: skip
        with pytest.raises(HTTPException) as raised:
            check_csrf(request(cookie), form)
        assert raised.value.status_code == 403


def test_no_secret_reaches_any_response(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    client = TestClient(create_app(StudioConfig(root=str(root))))
    from sim.store import load

    episodes, steps = load(root / "suite" / "leaky")
    assert steps["reply"].str.contains(SECRET, na=False).any()  # the model did say it
    urls = ["/", "/runs/suite/leaky"]
    urls += [f"/runs/suite/leaky/episodes/{e}" for e in episodes["episode_id"]]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.text, url
        assert os.environ[SECRET_ENV] not in str(response.headers)
    assert "remote (openai, gpt-test)" in client.get("/").text
