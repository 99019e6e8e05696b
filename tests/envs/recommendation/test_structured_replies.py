"""Structured replies of the recommendation dialogue and the feed: every reply a schema admits is a
valid action, for both roles at every decision of whole scripted episodes, and JSON replies that
name the wrong thing say which field."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import agents.scripted
import agents.users  # noqa: F401  (registers the players)
from agents.registry import make_policy
from envs.core.protocol import ActionParseError
from envs.recommendation import dialogue, dialogue_acts, feed
from envs.recommendation.commands import similar_mask
from sim.llm.schema_sample import sample_instance
from tests.envs.recommendation.test_commands import toy_catalog
from tests.envs.recommendation.test_dialogue import factorial_catalog
from tests.envs.structured_checks import check_structured

DIALOGUES = (
    ({"n_items": 200, "max_turns": 6}, "dialogue/elimination"),
    ({"domain": "games", "n_items": 300, "recommend_size": 2, "searches_per_turn": 1,
      "text_observations": False}, "dialogue/retrieval"),
    ({"domain": "restaurants", "n_items": 150, "catalog_seed": None, "searches_per_turn": 0,
      "max_turns": 4}, "dialogue/popular"),
    ({"catalog": factorial_catalog(), "recommend_size": 3, "max_turns": 8}, "dialogue/elimination"),
)  # fmt: skip
FEEDS = (
    ({"n_items": 200, "max_steps": 8}, "satisfaction"),
    ({"domain": "games", "n_items": 150, "slate_size": 3, "max_steps": 6, "text_candidates": 5,
      "text_observations": False}, "clickbait"),
    ({"catalog": toy_catalog(), "slate_size": 4, "max_steps": 10, "churn_hazard": 0.0},
     "random"),
)  # fmt: skip


def play_checking(
    game: Any, policies: dict[str, Any], seed: int, stepped: int = 2
) -> dict[str, set[str]]:
    """One scripted episode checking the structured replies of the agent to move at every
    decision; ``stepped`` random schema instances are also parsed and stepped in a copy of the
    env (which checks every action against its space). Returns the variants seen per agent."""
    rng = np.random.default_rng(seed)
    protocol = game.unwrapped.protocol
    seen: dict[str, set[str]] = {agent: set() for agent in game.possible_agents}
    for agent in game.agent_iter():
        observation, _, terminated, truncated, _ = game.last()
        if terminated or truncated:
            game.step(None)
            continue
        schema = check_structured(protocol, observation, agent, rng, samples=8)
        seen[agent] |= _variants(schema)
        for _ in range(stepped):
            reply = json.dumps(sample_instance(schema, rng))
            action = protocol.parse(reply, observation, agent)
            assert game.action_space(agent).contains(action), reply
            copy.deepcopy(game).step(action)
        game.step(policies[agent].act(observation, agent))
    return seen


def _variants(schema: dict[str, Any]) -> set[str]:
    """The acts / responses a schema offers."""
    found = set()
    for variant in schema.get("anyOf", [schema]):
        for key in ("act", "response"):
            found |= set(variant["properties"].get(key, {}).get("enum", ()))
    return found


@pytest.mark.parametrize("setting", range(len(DIALOGUES)))
def test_every_dialogue_reply_the_schema_admits_is_a_valid_action(setting):
    params, recommender = DIALOGUES[setting]
    game = dialogue.env(**params)
    seen: dict[str, set[str]] = {}
    for seed in range(3):
        game.reset(seed=seed)
        policies = {
            "recommender_0": make_policy(recommender, game, seed=seed),
            "user_0": make_policy("dialogue/agenda", game, seed=seed),
        }
        for agent, variants in play_checking(game, policies, seed).items():
            seen.setdefault(agent, set()).update(variants)
    searches = params.get("searches_per_turn", 2) > 0  # no search, no hits to recommend
    rec = {"ask", "respond"} | ({"search", "recommend"} if searches else set())
    assert rec <= seen["recommender_0"]
    user = set(dialogue_acts.USER_ACTS) - (set() if searches else {"accept"})
    assert user <= seen["user_0"]


@pytest.mark.parametrize("setting", range(len(FEEDS)))
def test_every_feed_reply_the_schema_admits_is_a_valid_action(setting):
    params, recommender = FEEDS[setting]
    game = feed.env(**params)
    seen: dict[str, set[str]] = {}
    for seed in range(3):
        game.reset(seed=seed)
        policies = {
            "recommender_0": make_policy(f"feed/{recommender}", game, seed=seed),
            "user_0": make_policy("feed/user", game, seed=seed + 10_000),
        }
        for agent, variants in play_checking(game, policies, seed).items():
            seen.setdefault(agent, set()).update(variants)
    assert {"skip", "click", "command", "leave"} <= seen["user_0"]


def test_random_schema_players_play_whole_dialogues_and_feeds():
    """Both roles answer random instances of their schema, as a senseless constrained decoder
    would: every episode runs to its end."""
    rng = np.random.default_rng(0)
    for game in (dialogue.env(**DIALOGUES[0][0]), feed.env(**FEEDS[0][0])):
        for seed in range(3):
            game.reset(seed=seed)
            protocol = game.unwrapped.protocol
            for agent in game.agent_iter():
                observation, _, terminated, truncated, info = game.last()
                if terminated or truncated:
                    game.step(None)
                    continue
                reply = sample_instance(protocol.reply_schema(observation, agent), rng)
                game.step(protocol.parse(json.dumps(reply), observation, agent))
            assert "metrics" in info


def test_dialogue_json_replies_and_their_errors():
    game = dialogue.raw_env(catalog=factorial_catalog(), recommend_size=2)
    game.reset(seed=0)
    protocol, parse = game.protocol, game.protocol.parse
    rec = game.observe("recommender_0")
    assert data_equivalence(
        parse('```json\n{"act": "ask", "feature": "tone"}\n```', rec, "recommender_0"),
        parse("ASK tone", rec, "recommender_0"),
    )
    with pytest.raises(ActionParseError, match="field 'act'"):  # no hits to recommend yet
        parse('{"act": "recommend", "items": [3], "message": ""}', rec, "recommender_0")
    game.step(parse('{"act": "search", "query": ""}', rec, "recommender_0"))
    rec = game.observe("recommender_0")
    hits = [int(i) for i in rec["results"] if i >= 0]
    missing = next(i for i in range(len(game.catalog)) if i not in hits)
    for reply, field in (
        ({"act": "recommend", "items": [missing], "message": ""}, "field 'items'"),
        ({"act": "recommend", "items": [hits[0], 10**9], "message": ""}, "field 'items'"),
        ({"act": "recommend", "items": hits[:3], "message": ""}, "field 'items'"),  # 3 > 2
        ({"act": "recommend", "items": [hits[0]]}, "field 'message'"),
        ({"act": "ask", "feature": "colour"}, "field 'feature'"),
        ({"act": "dance"}, "field 'act'"),
    ):
        with pytest.raises(ActionParseError, match=field):
            parse(json.dumps(reply), rec, "recommender_0")
    chosen = parse(json.dumps({"act": "recommend", "items": [hits[1], hits[1]], "message": "Hi"}),
                   rec, "recommender_0")  # fmt: skip
    assert chosen["items"].tolist() == [hits[1], -1] and chosen["message"] == "Hi"
    game.step(chosen)
    user = game.observe("user_0")
    said = {"utterance": "Hm", "ratings": {"recommendation": 1, "strategy": 2, "expression": 3},
            "reason": "no"}  # fmt: skip
    action = parse(json.dumps({"act": "accept", "item": hits[1], **said}), user, "user_0")
    assert action["item"][0] == hits[1] and action["ratings"].tolist() == [1, 2, 3]
    reject = {"act": "reject", "about": {"feature": "tone", "value": "Dark"}, **said}
    assert parse(json.dumps(reject), user, "user_0")["value"] == 1
    for reply, field in (
        ({"act": "accept", "item": hits[0], **said}, "field 'item'"),
        ({"act": "reject", "about": {"feature": "tone", "value": "old"}, **said}, "about.value"),
        ({"act": "reject", "about": {"feature": "mood", "value": "dark"}, **said}, "about.feature"),
        ({"act": "quit", **said, "ratings": {"recommendation": 6, "strategy": 2,
                                             "expression": 3}}, "ratings.recommendation"),
        ({"act": "quit", "utterance": "bye", "ratings": said["ratings"]}, "field 'reason'"),
    ):  # fmt: skip
        with pytest.raises(ActionParseError, match=field):
            parse(json.dumps(reply), user, "user_0")
    schema = protocol.reply_schema(user, "user_0")
    accept = next(v for v in schema["anyOf"] if v["properties"]["act"]["enum"] == ["accept"])
    assert accept["properties"]["item"]["enum"] == [hits[1]]


def test_feed_json_replies_and_their_errors():
    game = feed.raw_env(catalog=toy_catalog(), slate_size=3, churn_hazard=0.0, max_steps=4)
    game.reset(seed=0)
    parse = game.protocol.parse
    rec = game.observe("recommender_0")
    shown = game.protocol.candidates(rec)
    action = parse(json.dumps({"slate": [shown[2], shown[0], shown[2]], "message": "Enjoy"}), rec,
                   "recommender_0")  # fmt: skip
    assert action["slate"].tolist() == [shown[2], shown[0], -1] and action["message"] == "Enjoy"
    for reply, field in (
        ({"slate": [99], "message": ""}, "field 'slate'"),
        ({"slate": [-1], "message": ""}, "field 'slate'"),
        ({"slate": [], "message": ""}, "field 'slate'"),
        ({"slate": shown[:4], "message": ""}, "field 'slate'"),
        ({"slate": shown[:1]}, "field 'message'"),
    ):
        with pytest.raises(ActionParseError, match=field):
            parse(json.dumps(reply), rec, "recommender_0")
    game.step(parse(json.dumps({"slate": shown[:2], "message": ""}), rec, "recommender_0"))
    user = game.observe("user_0")
    assert parse('```json\n{"response": "click", "slot": 2}\n```', user, "user_0") == {
        "response": 2,
        "command": "",
    }
    command = parse('{"response": "command", "command": "no more mysteries"}', user, "user_0")
    assert command == {"response": 4, "command": "no more mysteries"}
    for reply, field in (
        ({"response": "click", "slot": 3}, "field 'slot'"),  # an empty slot
        ({"response": "click", "slot": 0}, "field 'slot'"),
        ({"response": "scroll"}, "field 'response'"),
        ({"response": "command"}, "field 'command'"),
    ):
        with pytest.raises(ActionParseError, match=field):
            parse(json.dumps(reply), user, "user_0")


def test_feed_candidates_follow_more_like_this_and_something_different():
    game = feed.raw_env(catalog=toy_catalog(), slate_size=3, churn_hazard=0.0, max_steps=6)
    game.reset(seed=0)
    protocol, rng = game.protocol, np.random.default_rng(0)
    game.step(protocol.recommender_action([0, 6, 1]))
    game.step(protocol.user_action(1))  # clicks item 0
    game.step(protocol.recommender_action([2, 3, 5]))
    game.step(protocol.user_action(4, "more like this"))
    rec = game.observe("recommender_0")
    assert rec["similar_to"][0] == 0
    check_structured(protocol, rec, "recommender_0", rng)
    like = similar_mask(rec["item_category"], rec["item_attributes"], 0, np.arange(10))
    allowed_like = [i for i in np.flatnonzero(like) if rec["item_allowed"][i]]
    assert allowed_like and protocol.candidates(rec)[: len(allowed_like)] == sorted(
        allowed_like, key=lambda i: -rec["item_popularity"][i]
    )
    game.step(protocol.recommender_action([4, 7, 8]))
    game.step(protocol.user_action(4, "something different"))
    rec = game.observe("recommender_0")
    assert rec["different"] == 1
    check_structured(protocol, rec, "recommender_0", rng)
