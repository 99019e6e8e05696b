"""Many participants at once against one studio server, and a restart in the middle of a study.

Ten simulated participants go through HTTP at the same time (a thread and a client each, with
cookies of their own) against a bargaining study whose Alice is an LLM
on the fake model: all complete, their opponents' calls are merged into batches (fewer model calls
than LLM decisions) and every episode is recorded. Then a participant is stopped mid-game, the
server is shut down and a new one is built on the same root: the completed episodes are all there
and the participant's link takes them back to their game, to the end.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import yaml
from starlette.testclient import TestClient

from sim.store import load
from sim.studio.config import Limits
from sim.studio.server import build_studio
from sim.studio.studies import token_hash
from tests.studio.test_study_pages import REPO, answer, participate

PEOPLE = 10
REJECT = {"decision": "reject"}
"""The crowd rejects every offer (and asks for little): episodes of several LLM decisions."""
LIMITS = Limits(requests_per_s=10_000, burst=10_000)
SLOW_FAKE = {"backend": "fake", "latency_s": 0.1}
"""A model call takes time, as a real one does: decisions of other participants queue behind it
(an instant fake batches only what arrives within the merge window, which a loaded machine
spreads out)."""


def bargaining_study() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "studies" / "bargaining.yaml").read_text())
    data["roster"] = {"alice": {"policy": "llm", "model": "fake-key"}}
    data["participants_per_arm"] = 6  # 12 slots: ten at once, then one across a restart
    return data


def server(root: Path) -> Any:
    return build_studio(
        root, studies=[bargaining_study()], models={"fake-key": SLOW_FAKE}, limits=LIMITS,
        window_s=0.05,
    )  # fmt: skip


def test_ten_at_once_then_a_restart_mid_game(tmp_path: Path) -> None:
    codes: dict[int, str] = {}
    links: dict[int, str] = {}
    errors: list[BaseException] = []

    def person(i: int, app: Any) -> None:
        client = TestClient(app)  # a browser of its own (cookies); the lifespan runs once, below
        try:
            opened = client.get("/s/bargaining-pilot", follow_redirects=False)
            links[i] = opened.headers["location"]
            codes[i], _ = participate(client, links[i], REJECT)
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    app = server(tmp_path)
    with TestClient(app) as client:
        crowd = [threading.Thread(target=person, args=(i, app)) for i in range(PEOPLE)]
        for thread in crowd:
            thread.start()
        for thread in crowd:
            thread.join(60)
        assert not errors, errors
        assert len(codes) == PEOPLE and len(set(codes.values())) == PEOPLE
        host = app.state.studies["bargaining-pilot"]
        stats = host.manager.shared_model("fake-key").stats
        calls, requests = stats.calls, stats.requests  # before the late participant's
        progress = host.book.progress()
        assert sum(arm["completed"] for arm in progress.values()) == PEOPLE
        assert {arm["completed"] for arm in progress.values()} == {PEOPLE // 2}  # balanced

        # one more participant, stopped after their first decision
        late = client.get("/s/bargaining-pilot", follow_redirects=False).headers["location"]
        page = client.get(late)
        while 'name="number"' not in page.text:
            page = client.post(late, data=answer(page.text))
        assert "reject" in page.text  # Bob answers Alice's first offer: reject, to go on
        made = client.post(late, data=answer(page.text) | {"decision": "reject"})
        assert made.status_code == 200 and 'id="code"' not in made.text

    episodes, steps = load(tmp_path / "bargaining-pilot")
    assert len(episodes) == PEOPLE
    llm = steps[steps["parse_status"].isin(["parsed", "reasked", "choice", "default"])]
    assert len(llm) >= PEOPLE and requests >= len(llm)
    assert calls < len(llm), (calls, len(llm), stats.batch_sizes)

    restarted = server(tmp_path)
    book = restarted.state.studies["bargaining-pilot"].book
    with TestClient(restarted) as client:
        for i in range(PEOPLE):
            assert codes[i] in client.get(links[i]).text  # completed: the code again
        code, pages = participate(client, late)
        assert re.fullmatch(r"MC-[0-9A-F]{8}", code)
        assert 'id="consent"' not in pages[0]  # resumed in the game, not from the start

    episodes, steps = load(tmp_path / "bargaining-pilot")
    assert len(episodes) == PEOPLE + 1 and episodes["episode_id"].is_unique
    bob = steps[(steps["agent"] == "bob_0") & steps["action"].notna()]
    assert set(bob["policy"]) == {"human"}
    (late_id,) = [p.episode_id for p in book.people() if p.token_hash == token_hash(late[3:])]
    first = bob[bob["episode_id"] == late_id].sort_values("step")["reply"].iloc[0]
    assert "reject" in first.lower()  # the late one kept its pre-restart decision
