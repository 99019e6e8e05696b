"""A person's decisions, recorded by the studio, are exported as neither an LLM's nor a script's:
`Decision.is_llm` is false for them, so LLM datasets leave them out."""

from __future__ import annotations

from pathlib import Path

from sim.export.decisions import load_run
from sim.studio.play import SessionManager
from tests.studio.test_play import WAIT_S, answer, experiment


def test_human_decisions_are_not_llm_decisions(tmp_path: Path) -> None:
    exp = experiment()
    manager = SessionManager(tmp_path / "run", exp)
    session = manager.start(exp.cells()[0].cell_id, 0)
    assert answer(session) >= 2
    session.join(WAIT_S)
    manager.close()
    decisions = load_run(tmp_path / "run").decisions
    bob = [d for d in decisions if d.agent == "bob_0"]
    assert bob and all(d.parse_status == "human" and not d.is_llm for d in bob)
    assert all(d.policy != "human" for d in decisions if d.agent == "alice_0")
