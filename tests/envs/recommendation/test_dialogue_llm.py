"""RecDialogue-v0 with language-model players: the protocol's commands and fields, an LLM
recommender and an LLM user simulator through the engine (fake model)."""

from __future__ import annotations

import re

import pytest

from envs.core.checks import first_difference
from envs.core.protocol import ActionParseError
from envs.recommendation.dialogue import raw_env
from sim.engine.batch import run
from sim.store.runs import load


@pytest.fixture
def dialogue():
    trial = raw_env(n_items=300, max_turns=6)
    trial.reset(seed=1)
    return trial


def test_recommender_commands(dialogue):
    obs = dialogue.observe("recommender_0")
    parse = dialogue.protocol.parse
    assert parse("SEARCH dark fantasy", obs, "recommender_0")["query"] == "dark fantasy"
    feature = dialogue.features[1]
    asked = parse(f"ASK {feature.replace('_', ' ')}?", obs, "recommender_0")
    assert asked["act"] == 1 and asked["feature"] == 1
    rec = parse("RECOMMEND 12, 40: try these", obs, "recommender_0")
    assert list(rec["items"][:2]) == [12, 40] and rec["message"] == "try these"
    with pytest.raises(ActionParseError, match="ASK one of"):
        parse("ASK colour", obs, "recommender_0")
    with pytest.raises(ActionParseError, match="start with SEARCH, ASK, RECOMMEND or SAY"):
        parse("hello", obs, "recommender_0")


def test_user_fields_and_valid_actions(dialogue):
    dialogue.step(dialogue.protocol.recommender_action("recommend", items=[3, 4]))
    obs = dialogue.observe("user_0")
    feature = dialogue.features[0]
    value = dialogue.values[feature][0]
    reply = dialogue.protocol.parse(
        f"ACT: reject FEATURE: {feature} VALUE: {value} SAY: not that "
        "RATINGS: recommendation=1 strategy=2 expression=3 REASON: wrong kind",
        obs, "user_0",
    )  # fmt: skip
    assert (reply["act"], reply["feature"], reply["value"]) == (4, 0, 0)
    assert list(reply["ratings"]) == [1, 2, 3] and reply["reason"] == "wrong kind"
    with pytest.raises(ActionParseError, match="RATINGS needs strategy"):
        dialogue.protocol.parse("ACT: inquire RATINGS: recommendation=1", obs, "user_0")
    for agent in ("user_0",):
        for option in dialogue.protocol.valid_actions(obs, agent):
            parsed = dialogue.protocol.parse(option.label, obs, agent)
            assert first_difference(parsed, option.action) is None
            assert dialogue.action_space(agent).contains(option.action)


def recommender_script(request) -> str:
    """Ask first; then, each turn, search among what fits and recommend the top hits."""
    prompt = request.messages[-1]["content"]
    fresh_turn = "Searches left this turn: 2" in prompt
    if fresh_turn and "What the user has told you: nothing yet" in prompt:
        return "ASK " + re.search(r"Features you can ask about: (\w+)", prompt).group(1)
    if fresh_turn:
        return "SEARCH"
    hits = re.findall(r"^- \[(\d+)\]", prompt, re.MULTILINE)
    return "RECOMMEND " + ", ".join(hits[:3]) if hits else "SAY Tell me more?"


def test_an_llm_recommender_and_an_llm_user_through_the_engine(tmp_path):
    experiment = {
        "env": "mercato/RecDialogue-v0",
        "params": {"n_items": 500, "max_turns": 4, "searches_per_turn": 2},
        "models": {"fake": {"backend": "fake", "structured": "json_schema"}},  # schema-valid JSON
        "roster": {"recommender": {"policy": "llm", "model": "fake"}, "user": "dialogue/agenda"},
        "episodes": 3,
        "lockstep": 3,
    }
    episodes, steps = load(run(experiment, workers=0, out=tmp_path / "a"))
    llm = steps[steps["prompt"].notna()]
    assert set(llm["agent"]) == {"recommender_0"} and (episodes["llm_calls"] > 0).all()
    assert llm["prompt"].str.contains("Features you can ask about").all()
    experiment["roster"] = {"recommender": "dialogue/popular",
                            "user": {"policy": "llm", "model": "fake"}}  # fmt: skip
    episodes, steps = load(run(experiment, workers=0, out=tmp_path / "b"))
    users = steps[steps["prompt"].notna()]
    assert set(users["agent"]) == {"user_0"}
    assert users["prompt"].str.contains("Never say its title").all()
    assert (users["parse_status"] == "parsed").all() and (llm["parse_status"] == "parsed").all()
    assert (episodes["metric_leaks"] >= 0).all() and (episodes["metric_turns"] >= 1).all()


def test_a_scripted_llm_recommender_searches_asks_and_recommends():
    from agents.llm import LLMPolicy
    from agents.prompts import role_prompts
    from agents.registry import make_policy
    from envs.recommendation.dialogue import env
    from sim.llm.fake import FakeModel

    trial = env(n_items=500, max_turns=6, searches_per_turn=2)
    recommender = LLMPolicy(FakeModel(responses=recommender_script), role_prompts(trial),
                            trial.unwrapped.protocol)  # fmt: skip
    kinds = []
    for seed in range(4):
        trial.reset(seed=seed)
        user = make_policy("dialogue/agenda", trial, seed=seed)
        for agent in trial.agent_iter():
            observation, _, done, truncated, _ = trial.last()
            if done or truncated:
                trial.step(None)
                continue
            action = (recommender if agent == "recommender_0" else user).act(observation, agent)
            if agent == "recommender_0":
                kinds.append(int(action["act"]))
            trial.step(action)
    records = recommender.pop_records()
    assert all(r.status == "parsed" for r in records)
    assert {0, 1, 2} <= set(kinds)  # searched, asked and recommended
