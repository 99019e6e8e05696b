"""The play pages through HTTP: choose bargaining as Bob against the equilibrium Alice, play to
the end with form posts (refused values keep the game waiting, stale and token-less posts are
refused), and find the episode recorded like a simulated one with Bob's rows marked human."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sim.report.cells import build_report
from sim.store import load
from sim.store.runs import read_manifest
from sim.studio.app import create_app
from sim.studio.config import StudioConfig
from sim.studio.play_pages import enable_play, play_routes
from tests.studio.studio_runs import log_in

ENV = "mercato/Bargaining-v0"
TOKEN = "play-admin-token-1"


def make_app(root: Path, token: str | None = None) -> object:
    app = create_app(StudioConfig(root=str(root), admin_token=token), extra_routes=play_routes())
    enable_play(app, {"fk": "fake"})
    return app


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as client:
        yield client


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def hidden_number(html: str) -> int:
    match = re.search(r'name="number" value="(\d+)"', html)
    assert match, "no pending decision on the page"
    return int(match.group(1))


def start_game(client: TestClient, **extra: str) -> str:
    page = client.get("/play", params={"env": ENV})
    assert page.status_code == 200
    data = {
        "csrf_token": csrf(page.text),
        "env": ENV,
        "role": "bob",
        "opponent_alice": "bargaining/equilibrium",
        "seed": "7",
        "params": '{"horizon": 4}',
        **extra,
    }
    started = client.post("/play", data=data, follow_redirects=False)
    assert started.status_code == 303, started.text
    return started.headers["location"]


def test_new_game_page_offers_roles_opponents_and_models(client: TestClient) -> None:
    first = client.get("/play")
    assert first.status_code == 200 and ENV in first.text and "new-game" not in first.text
    page = client.get("/play", params={"env": ENV})
    assert 'name="role" value="bob"' in page.text and 'name="role" value="alice"' in page.text
    assert 'value="bargaining/equilibrium"' in page.text
    assert 'value="llm:fk"' in page.text
    assert 'value="human"' not in page.text  # nobody seats a second person from here


def test_new_game_refuses_bad_choices(client: TestClient) -> None:
    token = csrf(client.get("/play", params={"env": ENV}).text)
    base = {"csrf_token": token, "env": ENV, "role": "bob",
            "opponent_alice": "bargaining/equilibrium"}  # fmt: skip
    assert client.post("/play", data={**base, "csrf_token": ""}).status_code == 403
    for change, message in [
        ({"role": "carol"}, "role: choose one of"),
        ({"opponent_alice": "human"}, "opponent for alice"),
        ({"seed": "-3"}, "seed: a whole number"),
        ({"params": "[1]"}, "params: a JSON object"),
        ({"params": '{"horizon": -1}'}, "horizon"),
        ({"env": "../../etc"}, "not a registered env"),
    ]:
        page = client.post("/play", data={**base, **change}, follow_redirects=False)
        assert page.status_code == 400, change
        assert message in unescape(page.text), (change, page.text[-800:])


def test_bob_plays_bargaining_to_the_end(client: TestClient, tmp_path: Path) -> None:
    url = start_game(client)
    assert re.fullmatch(r"/play/[A-Za-z0-9_-]{16,}", url)
    page = client.get(url)
    assert page.status_code == 200
    assert "You are Bob" in page.text and 'id="instructions"' in page.text
    assert 'name="decision" value="reject"' in page.text
    number = hidden_number(page.text)

    # no token: refused; a value outside the form: shown, and the game still waits
    assert client.post(url, data={"number": str(number), "decision": "reject"}).status_code == 403
    token = csrf(page.text)
    refused = client.post(url, data={"csrf_token": token, "number": str(number),
                                     "decision": "maybe"})  # fmt: skip
    assert refused.status_code == 200
    assert "decision: &#39;maybe&#39; is not one of accept, reject" in refused.text
    assert hidden_number(refused.text) == number

    made, offered, finished = 0, False, False
    for _ in range(20):
        page = client.get(url)
        if 'id="outcome"' in page.text:
            finished = True
            break
        if 'id="thinking"' in page.text:
            continue
        number = hidden_number(page.text)
        if 'name="bob_gets"' in page.text:
            assert 'min="0" max="10000" step="any"' in page.text
            if not offered:
                bad = client.post(url, data={"csrf_token": token, "number": str(number),
                                             "decision": "offer", "bob_gets": "20000"})  # fmt: skip
                assert bad.status_code == 200
                assert "bob gets: 20000 is outside 0 to 10000" in bad.text
                assert 'value="20000"' in bad.text  # the form keeps what was typed
                offered = True
            values = {"decision": "offer", "bob_gets": "6000"}
        else:
            values = {"decision": "reject" if made == 0 else "accept"}
        sent = client.post(url, data={"csrf_token": token, "number": str(number), **values},
                           follow_redirects=False)  # fmt: skip
        # answered with what follows (no redirect, no error): one round trip per decision
        assert sent.status_code == 200 and 'id="turn-error"' not in sent.text, sent.text[-600:]
        following = re.search(r'name="number" value="(\d+)"', sent.text)
        assert following is None or int(following.group(1)) > number  # the next decision
        made += 1
        stale = client.post(url, data={"csrf_token": token, "number": str(number), **values})
        assert stale.status_code == 409  # the same form sent twice is not applied again
    assert finished and offered and made >= 2
    assert "Your return" in page.text
    assert "The game is over. An offer was accepted in round" in page.text  # how it ended
    assert "/runs/play/" in page.text  # the admin's link to the replay
    replay = re.search(r'href="(/runs/play/[^"]+/episodes/[^"]+)"', page.text)
    assert replay is not None

    entry = next(iter(client.app.state.play.entries.values()))  # type: ignore[attr-defined]
    assert entry.closed.wait(20)
    run = tmp_path / entry.rel
    assert read_manifest(run).status == "complete"
    episodes, steps = load(run)
    assert len(episodes) == 1
    bob = steps[(steps["agent"] == "bob_0") & steps["action"].notna()]
    alice = steps[(steps["agent"] == "alice_0") & steps["action"].notna()]
    assert len(bob) == made and set(bob["policy"]) == {"human"}
    assert set(alice["policy"]) == {"bargaining/equilibrium"}
    assert set(bob["parse_status"]) == {"human"} and bob["observation_text"].notna().all()
    report = build_report(run)
    assert set(report.loc[report["metric"] == "return_bob_0", "n"]) == {1}
    assert client.get(replay.group(1)).status_code == 200


def test_unknown_game_and_admin_token(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, TOKEN)) as client:
        assert client.get("/play").status_code == 401
        assert client.get("/play/nosuchgame0000000000").status_code == 404
        log_in(client, TOKEN)
        url = start_game(client)
        client.cookies.delete("studio_admin")
        page = client.get(url)  # the link alone lets a person play, without admin pages
        assert page.status_code == 200 and "You are Bob" in page.text
        assert "/runs/" not in page.text and client.get("/").status_code == 401


def test_finished_games_are_forgotten_after_a_while(tmp_path: Path) -> None:
    """A long-lived server does not keep every game it played: one that ended longer ago than
    ``keep_finished_s`` is dropped when the next starts (its page 404s, its run stays)."""
    app = make_app(tmp_path, None)
    with TestClient(app) as client:
        registry = app.state.play
        registry.keep_finished_s = 0.0
        first = start_game(client)
        entry = registry.get(first.rsplit("/", 1)[-1])
        entry.session.abandon()  # the person left: the game ends, its run is closed
        assert entry.closed.wait(20) and entry.closed_at is not None
        assert client.get(first).status_code == 200  # not dropped before another game starts
        second = start_game(client)
        assert client.get(first).status_code == 404 and client.get(second).status_code == 200
        assert list(registry.entries) == [second.rsplit("/", 1)[-1]]
        assert (tmp_path / entry.rel / "manifest.json").exists()
