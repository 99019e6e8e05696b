"""People in env seats through `SessionManager`/`PlaySession`: a bargaining game as Bob against
the equilibrium Alice played to the end and recorded like a simulated run; refused replies keep
the game waiting; abandoned episodes write no rows; ten concurrent sessions share batched model
calls; a crashed manager's episode resumes from its journal and records what an uninterrupted
one would."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import agents.scripted  # noqa: F401  (registers bargaining/equilibrium)
from sim.engine.experiment import load_experiment
from sim.report.cells import build_report
from sim.store import load
from sim.store.runs import read_manifest
from sim.studio.forms import Number
from sim.studio.journal import JOURNAL_DIR, Journal
from sim.studio.play import PlaySession, SessionManager

WAIT_S = 20.0
BOB_REPLIES = ["reject", "offer", "accept"]
"""Bob's script: reject Alice's first offer, propose, then accept whatever comes."""


def experiment(episodes: int = 1, alice: Any = "bargaining/equilibrium") -> Any:
    return load_experiment(
        {
            "name": "play",
            "env": "mercato/Bargaining-v0",
            "params": {"horizon": 4},
            "roster": {"alice": alice, "bob": "human"},
            "models": {"fake": "fake"},
            "episodes": episodes,
            "shard_size": 1,
        }
    )


LLM_ALICE = {"policy": "llm", "model": "fake"}


def answer(session: PlaySession, decisions: int | None = None) -> int:
    """Play Bob's script until the episode ends (or ``decisions`` were made); decisions made."""
    made = 0
    while decisions is None or made < decisions:
        pending = session.wait(WAIT_S)
        if pending is None:
            break
        offering = any(isinstance(c, Number) for c in pending.form.controls)
        if offering:
            values = {"bob_gets": "6000"}
        else:
            values = {"decision": "reject" if pending.number == 0 else "accept"}
        assert session.submit(values, pending.number) is None, values
        made += 1
    return made


def test_bob_plays_bargaining_to_the_end(tmp_path: Path) -> None:
    exp = experiment()
    manager = SessionManager(tmp_path / "run", exp)
    cell = exp.cells()[0].cell_id
    session = manager.start(cell, 0)
    assert session.agent == "bob_0"
    pending = session.wait(WAIT_S)
    assert pending is not None and pending.number == 0 and session.status == "waiting"
    assert "Bob" in pending.instructions and pending.text
    # a value the form refuses, then a reply the protocol refuses: both keep the game waiting
    assert session.submit({"decision": "maybe"}) == (
        "decision: 'maybe' is not one of accept, reject"
    )
    error = session.submit_text("perhaps later")
    assert error is not None and "ACCEPT" in error
    assert session.pending() is pending and session.status == "waiting"
    assert session.submit({"decision": "reject"}, number=5) is not None  # a stale form
    assert answer(session) >= 2
    assert session.join(WAIT_S) and session.status == "finished", session.error
    outcome = session.outcome()
    assert outcome is not None and outcome.agent == "bob_0" and outcome.text
    assert manager.start(cell, 0) is session  # the person coming back sees the same session
    manager.close()
    again = SessionManager(tmp_path / "run", exp)
    with pytest.raises(ValueError, match="already recorded"):
        again.start(cell, 0)
    again.close()
    assert read_manifest(tmp_path / "run").status == "complete"

    episodes, steps = load(tmp_path / "run")
    assert len(episodes) == 1
    assert episodes.loc[0, "return_bob_0"] == pytest.approx(outcome.reward)
    acted = steps[steps["action"].notna()]
    bob = acted[acted["agent"] == "bob_0"]
    alice = acted[acted["agent"] == "alice_0"]
    assert len(bob) >= 2 and len(alice) >= 2
    assert set(bob["policy"]) == {"human"} and set(bob["parse_status"]) == {"human"}
    assert bob["observation_text"].notna().all()
    assert bob["retries"].iloc[0] == 1  # the refused typed reply
    assert '"perhaps later"' in bob["reply"].iloc[0]
    assert set(alice["policy"]) == {"bargaining/equilibrium"}
    assert alice["parse_status"].isna().all()
    report = build_report(tmp_path / "run")
    assert set(report.loc[report["metric"] == "return_bob_0", "n"]) == {1}


def test_abandoned_episode_writes_no_rows(tmp_path: Path) -> None:
    exp = experiment()
    manager = SessionManager(tmp_path / "run", exp)
    cell = exp.cells()[0].cell_id
    session = manager.start(cell, 0)
    assert session.wait(WAIT_S) is not None
    session.abandon()
    assert session.join(WAIT_S) and session.status == "abandoned"
    episodes, _ = load(tmp_path / "run")
    assert episodes.empty
    journal = next((tmp_path / "run" / JOURNAL_DIR).glob("*.jsonl"))
    assert [e["kind"] for e in Journal(journal).entries()][-1] == "abandoned"
    again = manager.start(cell, 0)  # the slot is free again; the old journal is kept aside
    assert again is not session
    answer(again)
    assert again.join(WAIT_S) and again.status == "finished"
    assert len(list((tmp_path / "run" / JOURNAL_DIR).glob("*.abandoned-0.jsonl"))) == 1
    manager.close()
    assert len(load(tmp_path / "run")[0]) == 1


def test_timeout_abandons(tmp_path: Path) -> None:
    exp = experiment()
    manager = SessionManager(tmp_path / "run", exp, timeout_s=0.2)
    session = manager.start(exp.cells()[0].cell_id, 0)
    assert session.join(WAIT_S) and session.status == "abandoned"
    manager.close()


def test_ten_sessions_share_model_calls(tmp_path: Path) -> None:
    exp = experiment(episodes=10, alice=LLM_ALICE)
    manager = SessionManager(tmp_path / "run", exp, window_s=0.05)
    cell = exp.cells()[0].cell_id
    sessions = [manager.start(cell, i) for i in range(10)]
    players = [threading.Thread(target=answer, args=(s,)) for s in sessions]
    for player in players:
        player.start()
    for player in players:
        player.join(60)
    assert all(s.join(WAIT_S) for s in sessions)
    assert [s.status for s in sessions] == ["finished"] * 10, [s.error for s in sessions]
    stats = manager.shared_model("fake").stats
    manager.close()
    episodes, steps = load(tmp_path / "run")
    assert len(episodes) == 10
    llm = steps[steps["parse_status"].isin(["parsed", "reasked", "choice", "default"])]
    assert len(llm) >= 10 and stats.requests >= len(llm)
    assert stats.calls < len(llm), (stats.calls, len(llm), stats.batch_sizes)
    assert max(stats.batch_sizes) > 1


def _crash(manager: SessionManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a killed server leaves: its lease unreleased (stale at once here), its sessions'
    threads gone quiet, its journals open."""
    lease = manager.run_dir.lease
    assert lease is not None
    lease._stop.set()
    monkeypatch.setenv("MERCATO_LEASE_STALE_S", "0")
    for session in manager.sessions.values():
        session._closing = True  # the thread may end, but writes nothing (as if killed)
        session.seat.abandon()


TIMING = ["llm_latency_s"]


def test_kill_and_resume_records_the_same_episode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exp = experiment(alice=LLM_ALICE)
    cell = exp.cells()[0].cell_id
    straight = SessionManager(tmp_path / "straight", exp)
    answer(straight.start(cell, 0))
    straight.close()

    first = SessionManager(tmp_path / "run", exp)
    assert answer(first.start(cell, 0), decisions=1) == 1  # Bob rejected Alice's offer
    _crash(first, monkeypatch)
    second = SessionManager(tmp_path / "run", exp, takeover=True)
    (session,) = second.resume()
    pending = session.wait(WAIT_S)
    assert pending is not None and pending.number == 1  # Bob's reply was replayed
    model = session.models.get("fake")
    assert model.served_from_journal >= 1  # Alice's offer came from the journal
    assert second.shared_model("fake").stats.calls == 0
    assert second.resume() == []  # already running
    answer(session)
    assert session.join(WAIT_S) and session.status == "finished", session.error
    second.close()

    want_episodes, want_steps = load(tmp_path / "straight")
    got_episodes, got_steps = load(tmp_path / "run")
    assert len(got_episodes) == 1
    assert got_episodes.loc[0, "trace"] == want_episodes.loc[0, "trace"]
    pd.testing.assert_frame_equal(got_steps.drop(columns=TIMING), want_steps.drop(columns=TIMING))
    assert second.resume() == []  # recorded: never played (or written) again


def test_play_run_needs_one_episode_per_shard(tmp_path: Path) -> None:
    exp = load_experiment({**experiment().resolved(), "shard_size": 2})
    with pytest.raises(ValueError, match="shard_size must be 1"):
        SessionManager(tmp_path / "run", exp)


def test_merging_model_merges_threads_and_splits_results() -> None:
    from sim.llm import make_model
    from sim.studio.merging_model import MergingModel

    inner = make_model("fake")
    merged = MergingModel(inner, window_s=0.05)
    requests = [[{"messages": f"hello {i}", "seed": i}] * (1 + i % 2) for i in range(8)]
    got: dict[int, Any] = {}

    def ask(i: int) -> None:
        got[i] = merged.generate(requests[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert merged.stats.requests == sum(map(len, requests))
    assert merged.stats.calls < 8
    for i, batch in enumerate(requests):
        assert [c.text for c in got[i]] == [c.text for c in inner.generate(batch)]


def test_the_outcome_says_the_game_is_over_and_the_return(tmp_path: Path) -> None:
    """The finished game's outcome states the end first, in the protocol's words (the accepted
    split; not the last turn's "It is Alice's turn" as if the game went on), Bob's own return,
    then Bob's own view at the end only."""
    exp = experiment()
    manager = SessionManager(tmp_path / "run", exp)
    try:
        session = manager.start(exp.cells()[0].cell_id, 0)
        answer(session)
        assert session.join(WAIT_S) and session.status == "finished"
        outcome = session.outcome()
        assert outcome is not None and outcome.agent == "bob_0"
        episodes, _ = load(tmp_path / "run")
        reward = float(episodes.loc[0, "return_bob_0"])
        assert reward > 0 and outcome.reward == reward  # a deal: Bob gets a share
        first, second, *rest = outcome.text.splitlines()
        ended = re.fullmatch(
            r"The game is over\. An offer was accepted in round (\d): Alice gets \$([\d,]+) "
            r"and Bob gets \$([\d,]+) \(face value\)\.",
            first,
        )
        assert ended is not None, first
        face = float(ended.group(3).replace(",", ""))  # discounted by Bob's default 0.9
        assert reward == pytest.approx(face * 0.9 ** (int(ended.group(1)) - 1))
        assert second == f"Your return: {reward:,.2f}."
        assert "You are Bob" in outcome.text and "You are Alice" not in outcome.text
        assert rest.index("What you saw at the end:") < rest.index(
            next(line for line in rest if "It is Alice's turn" in line)
        )
    finally:
        manager.close()
