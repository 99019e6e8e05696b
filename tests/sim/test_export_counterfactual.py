"""Counterfactual DPO pairs: replayed states, the determinism oracle, dpo and CLI wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from datasets import load_dataset
from trl.data_utils import is_conversational
from typer.testing import CliRunner

from sim.cli import app
from sim.export import ExportError, counterfactual_pairs, dpo_pairs, load_run
from sim.export.counterfactual import SubstituteParallel, Substitution, counterfactual_states
from tests.sim.export_runs import bargaining, play

runner = CliRunner()

GREEDY = {"Make your offer": "OFFER alice=7000 bob=3000", "*": "ACCEPT"}
MODEST = {"Make your offer": "OFFER alice=1000 bob=9000", "*": "ACCEPT"}
"""Fake models answering by prompt (not by call order), so every episode replays exactly; against
the equilibrium Bob the modest opening is accepted at once and the greedy one is not."""

SHOPPER = {
    "Paid: #": "END",
    **{f"proposal #{i} from": f"PAY #{i}" for i in range(6)},
    "none yet": "WAIT",
    "Last action: message": "WAIT",
    "*": "ASK all: please send a proposal",
}
"""A market customer that never searches by itself, but buys once it has results."""


def llm_run() -> dict[str, Any]:
    """Alice is a fake LLM, greedy in c000 and modest in c001: the same opening prompt with
    different replies and returns (one same-state pair)."""
    return bargaining(
        name="bargain-cf",
        models={
            "greedy": {"backend": "fake", "responses": GREEDY},
            "modest": {"backend": "fake", "responses": MODEST},
        },
        roster={"alice": {"policy": "llm", "model": "greedy"}, "bob": "bargaining/equilibrium"},
        cells=[{"roster": {"alice": {"policy": "llm", "model": "modest"}}}],
        episodes=2,
    )


def market_run() -> dict[str, Any]:
    return {
        "name": "market-cf",
        "env": "mercato/Marketplace-v0",
        "params": {"n_customers": 2, "market_seed": 0, "search_algorithm": "perfect",
                   "max_ticks": 6},
        "models": {"shopper": {"backend": "fake", "responses": SHOPPER}},
        "roster": {"customer": {"policy": "llm", "model": "shopper"},
                   "business": "marketplace/honest"},
        "episodes": 1,
    }  # fmt: skip


def chooser_run() -> dict[str, Any]:
    """Alice's model never answers in format (like a very small model): every decision is
    reached by constrained choice, so there is no reply text, yet the states can branch."""
    return bargaining(
        name="bargain-choice",
        models={"chatty": {"backend": "fake", "responses": {"*": "I like turtles"}}},
        roster={
            "alice": {"policy": "llm", "model": "chatty", "options": {"max_reasks": 0}},
            "bob": "bargaining/equilibrium",
        },
        episodes=2,
        max_fallback_rate=1.0,  # every decision is a constrained choice, on purpose
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    scripted = {"alice": "bargaining/equilibrium", "bob": "bargaining/equilibrium"}
    return {
        "llm": play(llm_run(), root / "llm"),
        "scripted": play(bargaining(name="bargain-eq", roster=scripted, episodes=2), root / "eq"),
        "cycling": play(bargaining(episodes=4), root / "cycling"),
        "market": play(market_run(), root / "market"),
        "chooser": play(chooser_run(), root / "chooser"),
    }


def test_pairs_prefer_the_better_replayed_return_at_the_recorded_prompt(runs):
    data = load_run(runs["llm"])
    prompts = {(d.episode_id, d.step): d.prompt for d in data.decisions if d.is_llm}
    rows = counterfactual_pairs(data)
    assert rows
    for row in rows:
        assert row["chosen_outcome"] > row["rejected_outcome"]
        assert row["margin"] == row["chosen_outcome"] - row["rejected_outcome"]
        assert (row["source"], row["rank_by"], row["role"]) == ("counterfactual", "return", "alice")
        assert row["prompt"] in prompts.values() and is_conversational(row)
    assert set(rows[0]) == set(dpo_pairs(data)[0])
    # the greedy opening is beaten by the modest one, which Bob accepts at once
    opening = [r for r in rows if r["chosen"][0]["content"] == "OFFER alice=1000 bob=9000"]
    assert opening and all(r["chosen_outcome"] == 1000.0 for r in opening)


def test_the_recorded_replys_replay_gives_back_the_recorded_return(runs):
    states = counterfactual_states(runs["llm"])
    assert len(states) == 6  # every LLM decision: 2 per greedy episode, 1 per modest one
    for state in states:
        d = state.text.decision
        assert state.reproduced and state.recorded.outcome == d.episode_return
        assert state.recorded.text == d.reply and state.candidates[0] is state.recorded
        labels = [c.text for c in state.candidates[1:]]
        assert d.reply not in labels and len(set(labels)) == len(labels)
        assert len(state.candidates) == (11 if "OFFER" in d.reply else 2)
    indices = {(s.text.decision.episode_id, s.text.decision.step): s.index for s in states}
    assert indices[("c000-e00000", 0)] == 0 and indices[("c000-e00000", 3)] == 1
    pairs = counterfactual_pairs(runs["llm"], pairs="all")
    # a pair holding the recorded reply carries its recorded return
    accepted = {d.episode_return for d in load_run(runs["llm"]).decisions if d.reply == "ACCEPT"}
    recorded = [r for r in pairs if r["chosen"][0]["content"] == "ACCEPT"]
    assert recorded and all(r["chosen_outcome"] in accepted for r in recorded)


def test_a_player_that_does_not_replay_is_caught_or_skipped(runs):
    with pytest.raises(ExportError) as caught:
        counterfactual_states(runs["cycling"])
    message = str(caught.value)
    assert "episode c000-e0000" in message and "not deterministic" in message
    assert "verify=False" in message and "\n" not in message
    kept = counterfactual_states(runs["cycling"], verify=False)
    sampled = len([d for d in load_run(runs["cycling"]).decisions if d.is_llm and d.prompt])
    assert all(s.reproduced for s in kept) and len(kept) < min(sampled, 32)


def test_decisions_reached_by_choice_branch_from_the_chosen_label(runs):
    data = load_run(runs["chooser"])
    assert {d.parse_status for d in data.decisions if d.is_llm} == {"choice"}
    with pytest.raises(ExportError, match="none came from a parsed reply"):
        dpo_pairs(runs["chooser"])
    states = counterfactual_states(runs["chooser"])
    assert states and all(s.reproduced for s in states)
    for state in states:
        labels = [c.text for c in state.candidates[1:]]
        assert state.recorded.text not in labels  # the chosen label stands for the recorded one
    rows = dpo_pairs(runs["chooser"], counterfactual=True)
    assert rows and all(r["chosen_outcome"] > r["rejected_outcome"] for r in rows)
    assert all(r["chosen"][0]["content"] != "I like turtles" for r in rows)


def test_states_are_sampled_reproducibly_by_seed(runs):
    first = counterfactual_pairs(runs["llm"], max_states=3, seed=1)
    assert first == counterfactual_pairs(runs["llm"], max_states=3, seed=1)
    picked = [
        [(s.text.decision.episode_id, s.text.decision.step) for s in
         counterfactual_states(runs["llm"], max_states=3, seed=seed)]
        for seed in range(4)
    ]  # fmt: skip
    assert all(len(p) == 3 and p == sorted(p) for p in picked)
    assert len({tuple(p) for p in picked}) > 1


def test_scripted_players_with_include_scripted(runs):
    with pytest.raises(ExportError, match="has no LLM decisions"):
        counterfactual_pairs(runs["scripted"])
    states = counterfactual_states(runs["scripted"], include_scripted=True)
    assert {s.text.source for s in states} == {"scripted"}
    assert all(s.reproduced for s in states)
    rows = counterfactual_pairs(runs["scripted"], include_scripted=True)
    assert rows and {r["role"] for r in rows} <= {"alice", "bob"}
    # every scripted episode is alike: no same-state pair, so dpo points at --counterfactual
    with pytest.raises(ExportError, match=r"counterfactual=True \(--counterfactual\) to replay"):
        dpo_pairs(runs["scripted"], include_scripted=True)
    both = dpo_pairs(runs["scripted"], include_scripted=True, counterfactual=True)
    assert both == rows


def test_dpo_adds_counterfactual_pairs_to_same_state_ones(runs):
    same = dpo_pairs(runs["llm"])
    assert {r["source"] for r in same} == {"same-state"}
    both = dpo_pairs(runs["llm"], counterfactual=True, max_states=2)
    assert both[: len(same)] == same
    assert {r["source"] for r in both[len(same) :]} == {"counterfactual"}
    with pytest.raises(ExportError, match="max_states applies to counterfactual"):
        dpo_pairs(runs["llm"], max_states=2)
    with pytest.raises(ExportError, match="ranked by the deciding agent's return"):
        dpo_pairs(runs["llm"], counterfactual=True, rank_by="metric_deal")


def test_parallel_env_replays_with_the_substituted_action(runs):
    states = counterfactual_states(runs["market"], max_states=4)
    assert states and all(s.reproduced for s in states)
    rows = counterfactual_pairs(runs["market"], max_states=4)
    assert rows and rows[0]["chosen"][0]["content"].startswith("SEARCH ")
    assert rows[0]["rejected"][0]["content"] == "WAIT" and rows[0]["chosen_outcome"] > 0


class _Stub:
    """A Parallel env stand-in (`envs.core.turns.PartlyDeciding`): ``deciding_agents``
    alternates, ``step`` records its actions."""

    idle_action = "idle"

    def __init__(self) -> None:
        self.agents = ["a_0", "b_0"]
        self.steps: list[dict[str, str]] = []

    def deciding_agents(self) -> list[str]:
        return [self.agents[len(self.steps) % 2]]

    def step(self, actions: dict[str, str]) -> None:
        self.steps.append(actions)


def test_parallel_substitution_counts_only_the_agents_decisions():
    stub = _Stub()
    env = SubstituteParallel(stub, Substitution("b_0", 1, "swap"))  # type: ignore[arg-type]
    for _ in range(5):
        env.step({"a_0": "idle", "b_0": "own"})
    assert [s["b_0"] for s in stub.steps] == ["own", "own", "own", "swap", "own"]


def test_cli_writes_counterfactual_pairs_that_load_as_conversational(runs, tmp_path):
    out = tmp_path / "dpo"
    args = ["export", str(runs["llm"]), "--format", "dpo", "--out", str(out)]
    result = runner.invoke(app, [*args, "--counterfactual", "--max-states", "3"])
    assert result.exit_code == 0, result.output
    files = str(out / "data" / "train-*.parquet")
    rows = list(load_dataset("parquet", data_files=files)["train"])
    assert result.output.strip() == f"wrote {len(rows)} dpo row(s) to {out}"
    assert {r["source"] for r in rows} == {"same-state", "counterfactual"}
    assert all(is_conversational(r) for r in rows)
    card = (out / "README.md").read_text()
    assert "counterfactual pairs: up to 3 decision states" in card
    refused = runner.invoke(app, [*args[:-1], str(tmp_path / "x"), "--max-states", "3"])
    assert refused.exit_code == 2 and "max_states applies" in refused.output


def test_a_small_budget_goes_to_distinct_states_first(runs):
    from sim.export.counterfactual import _pick, _state_texts

    texts = _state_texts(load_run(runs["cycling"]), None, None, None, False, None)
    prompts = {str(t.prompt) for t in texts}
    assert 1 < len(prompts) < len(texts)  # some states recur (every episode's opening)
    for seed in range(5):
        picked = _pick(texts, len(prompts), seed)
        assert len({str(t.prompt) for t in picked}) == len(prompts)


def test_structured_decisions_get_candidates_written_as_the_json_they_asked_for(tmp_path):
    """A prompt that asked for JSON (structured replies) is paired with JSON replies that parse
    back to each candidate action, not with command text."""
    import json

    structured = bargaining(
        name="bargain-json",
        models={"fakey": {"backend": "fake", "structured": "json_schema"}},
        episodes=2,
    )
    rows = counterfactual_pairs(load_run(play(structured, tmp_path / "json")))
    assert rows
    for row in rows:
        assert "JSON Schema" in row["prompt"][-1]["content"]
        for side in ("chosen", "rejected"):
            reply = json.loads(row[side][0]["content"])
            assert reply["decision"] in ("offer", "accept", "reject")
