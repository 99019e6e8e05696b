"""`mercato bench studio` at a tiny size: a real server in a subprocess, three people at once,
two participations each; the counts agree (every participation completed with a code of its
own, decisions made and recorded, no errors). No speed is asserted."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sim.bench.studio import answer, bench
from sim.cli.app import app as cli
from sim.store import load

TURN = """<form method="post"><input type="hidden" name="csrf_token" value="t">
<input type="hidden" name="number" value="2">
<fieldset><input type="radio" name="decision" value="accept">
<input type="radio" name="decision" value="reject"></fieldset>
<input type="number" name="offer" min="3" max="9"><textarea name="message"></textarea></form>"""


def test_answer_fills_every_field_with_valid_values() -> None:
    assert answer(TURN, {}) == {
        "csrf_token": "t", "number": "2", "decision": "accept", "offer": "3", "message": "ok",
    }  # fmt: skip
    assert answer(TURN, {"decision": "reject"})["decision"] == "reject"
    assert answer(TURN, {"decision": "maybe"})["decision"] == "accept"  # not offered: ignored


def test_tiny_bench_counts_agree(tmp_path: Path) -> None:
    r = bench(participants=3, rounds=2, root=tmp_path)
    assert r.errors == ()
    assert r.completed == 6 and r.distinct_codes == 6
    assert r.decisions > 0 and r.decisions_per_s > 0 and r.game_s > 0
    assert r.requests > r.decisions and 0 < r.median_ms <= r.p95_ms
    assert r.spanned == r.decisions - 2 and r.steady_per_s > 0  # one span per round
    episodes, steps = load(tmp_path / "bench-studio")  # the server recorded every episode
    assert len(episodes) == 6
    human = steps[steps["parse_status"] == "human"]
    assert len(human) == r.decisions


def test_paced_bench_offers_one_decision_per_interval(tmp_path: Path) -> None:
    """At 10 decisions/s offered by 3 people, each decides every 0.3 s: 4 decisions each take at
    least 1.2 s (as fast as answered, the same round takes a fraction of that)."""
    r = bench(participants=3, rounds=1, root=tmp_path, rate=10.0)
    assert r.errors == () and r.completed == 3 and r.rate == 10.0
    assert r.decisions == 12 and r.game_s >= 1.2
    assert r.spanned == 11 and r.steady_per_s < 15  # one span; about the offered 10/s
    assert 0 < r.median_ms <= r.p95_ms


def test_cli_prints_the_table_and_targets() -> None:
    args = ["bench", "studio", "--participants", "2", "--rounds", "1", "--rate", "40"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "decisions/s" in result.output and ">= 200" in result.output
    assert "paced: 40/s offered" in result.output and "< 50 (paced)" in result.output
    assert "participations completed" in result.output and "2 / 2" in result.output
