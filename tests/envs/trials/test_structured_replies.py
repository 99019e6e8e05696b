"""The trial's structured replies: every reply its schema admits is a valid action, for every role
at every decision of whole scripted episodes, and JSON replies that name the wrong thing say which
field."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

from envs.core.protocol import ActionParseError
from envs.trials.env import CHAT, HINDSIGHT, POST, PRE, env, raw_env
from envs.trials.tactics import TACTICS
from sim.llm.schema_sample import sample_instance
from tests.envs.structured_checks import check_structured
from tests.envs.trials.playing import players

SETTINGS = (
    {"domain": "financial", "assistant_type": "NA", "min_exchanges": 2, "max_exchanges": 4,
     "hindsight": "none"},
    {"domain": "emotional", "assistant_type": "MA", "principal": True, "tasks": 2,
     "min_exchanges": 1, "max_exchanges": 3, "hindsight": "partial"},
    {"domain": "financial", "assistant_type": "SEMA", "principal": True, "min_exchanges": 3,
     "max_exchanges": 3, "hindsight": "full", "text_observations": False},
)  # fmt: skip


def play_checking(trial: Any, seed: int, stepped: int = 2) -> set[tuple[str, int]]:
    """One scripted episode checking the structured replies of the agent to move at every
    decision; ``stepped`` random schema instances are also parsed and stepped in a copy of the
    env (which checks every action against its space). Returns the (agent, phase) pairs seen."""
    rng = np.random.default_rng(seed)
    trial.reset(seed=seed)
    protocol = trial.unwrapped.protocol
    policies = players(seed)
    seen = set()
    for agent in trial.agent_iter():
        observation, _, terminated, truncated, _ = trial.last()
        if terminated or truncated:
            trial.step(None)
            continue
        schema = check_structured(protocol, observation, agent, rng, samples=8)
        seen.add((agent, int(observation["phase"])))
        for _ in range(stepped):
            reply = json.dumps(sample_instance(schema, rng))
            action = protocol.parse(reply, observation, agent)
            assert trial.action_space(agent).contains(action), reply
            copy.deepcopy(trial).step(action)
        trial.step(policies[agent].act(observation, agent))
    return seen


@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_every_reply_the_schema_admits_is_a_valid_action(setting):
    params = SETTINGS[setting]
    trial = env(**params)
    seen = set()
    for seed in range(5):
        seen |= play_checking(trial, seed)
    expected = {("user_0", p) for p in (PRE, CHAT, POST)} | {("assistant_0", CHAT)}
    if params.get("hindsight") != "none":
        expected.add(("user_0", HINDSIGHT))
    if params.get("principal"):
        expected.add(("principal_0", 0))
    assert seen == expected


def test_random_schema_players_finish_every_task():
    """Every role answers random instances of its schema, as a senseless constrained decoder
    would: the episodes run to their end."""
    trial = env(**SETTINGS[1])
    rng = np.random.default_rng(0)
    for seed in range(3):
        trial.reset(seed=seed)
        protocol = trial.unwrapped.protocol
        for agent in trial.agent_iter():
            observation, _, terminated, truncated, info = trial.last()
            if terminated or truncated:
                trial.step(None)
                continue
            reply = sample_instance(protocol.reply_schema(observation, agent), rng)
            trial.step(protocol.parse(json.dumps(reply), observation, agent))
        assert len(info["tasks"]) == 2


@pytest.fixture
def trial():
    trial = raw_env(assistant_type="SEMA", principal=True, min_exchanges=2, max_exchanges=4)
    trial.reset(seed=0)
    return trial


def test_json_replies_parse_like_keyed_lines(trial):
    parse = trial.protocol.parse
    principal = trial.observe("principal_0")
    target = trial.protocol._targets(principal)[0]
    chosen = parse(f'```json\n{{"target": "{target}"}}\n```', principal, "principal_0")
    assert data_equivalence(chosen, parse(f"TARGET: {target}", principal, "principal_0"))
    trial.step(chosen)
    pre = parse(
        '{"ratings": {"A": 7, "B": 5, "C": 3, "D": 6}, "confidence": 6, "familiarity": 4}',
        trial.observe("user_0"), "user_0",
    )  # fmt: skip
    keyed = parse(
        "RATINGS: A=7 B=5 C=3 D=6 CONFIDENCE: 6 FAMILIARITY: 4", trial.observe("user_0"), "user_0"
    )
    assert data_equivalence(pre, keyed)
    trial.step(pre)
    said = parse(
        '{"message": "B is lovely", "promote": "B", "discourage": "a", "tactic": "charm"}',
        trial.observe("assistant_0"), "assistant_0",
    )  # fmt: skip
    assert list(said["stance"]) == [-1.0, 1.0, 0.0, 0.0] and TACTICS[said["tactic"]] == "charm"
    trial.step(said)
    chat = trial.observe("user_0")
    reply = parse('{"message": "Hm.", "ratings": null, "end_chat": false}', chat, "user_0")
    assert reply["message"] == "Hm." and list(reply["ratings"]) == [7, 5, 3, 6]
    schema = trial.protocol.reply_schema(chat, "user_0")
    assert schema["properties"]["end_chat"]["enum"] == [False]  # the chat may not end yet


def test_json_errors_name_the_field(trial):
    parse = trial.protocol.parse
    principal = trial.observe("principal_0")
    optimal = "ABCD"[int(np.flatnonzero(principal["roles"] == 0)[0])]
    cases = [
        ({"target": optimal}, principal, "principal_0", "field 'target'"),
        ({"target": "E"}, principal, "principal_0", "field 'target'"),
    ]
    trial.step(parse(f'{{"target": "{trial.protocol._targets(principal)[0]}"}}', principal,
                     "principal_0"))  # fmt: skip
    user = trial.observe("user_0")
    good = {"ratings": {"A": 7, "B": 5, "C": 3, "D": 6}, "confidence": 6, "familiarity": 4}
    cases += [
        ({**good, "ratings": {"A": 7, "B": 5, "C": 3}}, user, "user_0", "ratings.D"),
        ({**good, "ratings": {"A": 11, "B": 5, "C": 3, "D": 1}}, user, "user_0", "ratings.A"),
        ({**good, "confidence": 0}, user, "user_0", "field 'confidence'"),
        ({**good, "familiarity": "high"}, user, "user_0", "field 'familiarity'"),
        ({"ratings": good["ratings"], "confidence": 6}, user, "user_0", "'familiarity'"),
    ]
    assistant = {"message": "hi", "promote": "Z", "discourage": None, "tactic": "none"}
    cases += [
        (assistant, trial.observe("assistant_0"), "assistant_0", "field 'promote'"),
        ({**assistant, "promote": None, "tactic": "flattery"}, trial.observe("assistant_0"),
         "assistant_0", "field 'tactic'"),
    ]  # fmt: skip
    for reply, observation, agent, field in cases:
        with pytest.raises(ActionParseError, match=field):
            parse(json.dumps(reply), observation, agent)
    trial.step(parse(json.dumps(good), user, "user_0"))
    trial.step(parse('{"message": "hi", "promote": null, "discourage": null, "tactic": "none"}',
                     trial.observe("assistant_0"), "assistant_0"))  # fmt: skip
    chat = trial.observe("user_0")
    with pytest.raises(ActionParseError, match="field 'end_chat'"):
        parse('{"message": "bye", "ratings": null, "end_chat": true}', chat, "user_0")
    with pytest.raises(ActionParseError, match="field 'ratings'"):
        parse('{"message": "bye", "ratings": [1, 2, 3, 4], "end_chat": false}', chat, "user_0")


def test_free_text_is_bounded_by_the_message_length():
    trial = raw_env(message_length=40)
    trial.reset(seed=0)
    observation = trial.observe("assistant_0")
    schema = trial.protocol.reply_schema(observation, "assistant_0")
    assert schema["properties"]["message"]["maxLength"] == 40
    long = {"message": "x" * 100, "promote": None, "discourage": None, "tactic": "none"}
    action = trial.protocol.parse(json.dumps(long), observation, "assistant_0")
    assert action["message"] == "x" * 40 and trial.action_space("assistant_0").contains(action)
