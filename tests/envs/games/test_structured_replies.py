"""Structured (JSON) replies of the three games' protocols: `check_structured` at every decision
of seeded episodes, with scripted players, random valid actions and random schema instances (each
parsed and stepped, as a constrained decoder's reply would be), and direct tests of the JSON
reader's errors."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import agents.scripted  # noqa: F401  (registers the scripted players)
from agents.registry import list_policies, make_policy
from envs.core.protocol import ActionParseError, protocol_of
from envs.core.spaces import normalize_text
from envs.games import (
    bargaining,
    bargaining_rules,
    negotiation,
    negotiation_rules,
    persuasion,
    persuasion_rules,
)
from sim.llm.schema_sample import sample_instance
from tests.envs.structured_checks import check_structured

SEEDS = range(2)
RANDOM_EPISODES = 6
SAMPLES = 6  # schema instances `check_structured` parses at each decision

Read = Callable[[Any, Any], tuple[Any, float, str]]
"""What the env makes of an action: (decision, amount, message)."""


def scripted_names(env_id: str) -> list[str]:
    names = sorted(p.name for p in list_policies(env_id) if p.envs is not None)
    assert names, env_id
    return names


def check_decision(game: Any, agent: str, obs: Any, action: Any, read: Read, rng: Any) -> None:
    """Every structured check at this decision, then ``action`` through `reply_json` and back
    reads as the env reads ``action``; the waiting agent has no schema."""
    protocol = protocol_of(game)
    check_structured(protocol, obs, agent, rng, samples=SAMPLES)
    data = protocol.reply_json(action, obs, agent)
    parsed = protocol.parse(json.dumps(data), obs, agent)
    decision, amount, message = read(parsed, obs)
    want_decision, want_amount, want_message = read(action, obs)
    assert (decision, message) == (want_decision, want_message), (data, parsed, action)
    assert amount == pytest.approx(want_amount, rel=1e-15, abs=1e-15), (data, parsed, action)
    waiting = next(other for other in game.possible_agents if other != agent)
    assert protocol.reply_schema(game.observe(waiting), waiting) is None


def play(game: Any, seed: int, choose: Callable[[str, Any, Any], Any], read: Read) -> int:
    """One episode with every decision checked; returns the number of decisions."""
    rng = np.random.default_rng(seed)
    decisions = 0
    game.reset(seed=seed)
    for agent in game.agent_iter():
        obs, _, terminated, truncated, _ = game.last()
        if terminated or truncated:
            game.step(None)
            continue
        action = choose(agent, obs, rng)
        check_decision(game, agent, obs, action, read, rng)
        decisions += 1
        game.step(action)
    return decisions


def random_chooser(game: Any) -> Callable[[str, Any, Any], Any]:
    """Half the time a random valid action, else a random instance of the reply schema parsed
    (what any constrained decoder may answer): the env must take it."""
    protocol = protocol_of(game)

    def choose(agent: str, obs: Any, rng: Any) -> Any:
        if rng.random() < 0.5:
            options = protocol.valid_actions(obs, agent)
            return options[int(rng.integers(len(options)))].action
        data = sample_instance(protocol.reply_schema(obs, agent), rng)
        return protocol.parse(json.dumps(data), obs, agent)

    return choose


def play_scripted(game: Any, pairs: Any, agents: tuple[str, str], read: Read) -> list[int]:
    decisions = []
    for first, second in pairs:
        for seed in SEEDS:
            policies = {
                agents[0]: make_policy(first, game, seed=seed),
                agents[1]: make_policy(second, game, seed=seed),
            }
            decisions.append(play(game, seed, scripted_chooser(policies), read))
    return decisions


def scripted_chooser(policies: dict[str, Any]) -> Callable[[str, Any, Any], Any]:
    return lambda agent, obs, rng: policies[agent].act(obs, agent)


def play_random(game: Any, read: Read) -> list[int]:
    return [play(game, seed, random_chooser(game), read) for seed in range(RANDOM_EPISODES)]


def first_observations(game: Any, first_action: Any) -> tuple[Any, Any]:
    """The first mover's observation, then the second's after ``first_action`` (copies)."""
    game.reset(seed=0)
    first = copy.deepcopy(game.last()[0])
    game.step(first_action)
    return first, copy.deepcopy(game.last()[0])


def parse(game: Any, data: Any, obs: Any, agent: str) -> Any:
    return protocol_of(game).parse(data if isinstance(data, str) else json.dumps(data), obs, agent)


# Bargaining ------------------------------------------------------------------------------------

ALICE, BOB = bargaining_rules.ALICE, bargaining_rules.BOB


def read_bargaining(action: Any, obs: Any) -> tuple[Any, float, str]:
    if obs["decision_mask"][bargaining_rules.OFFER]:
        message = normalize_text(action["message"], 500) if obs["messages_allowed"] else ""
        return "offer", float(np.asarray(action["alice_share"]).item()), message
    return action["decision"] == bargaining_rules.ACCEPT, 0.0, ""


BARGAINING_GAMES = [
    {"horizon": 6},
    {"money": 100.0, "horizon": 5, "messages": True, "message_length": 40},
    {"money": 1e6, "discount_alice": 0.8, "discount_bob": 0.95, "complete_information": False},
    {"money": 0.5, "horizon": 3, "discount_alice": 1.0, "messages": True},
    {"money": 123_456.789, "horizon": 8, "announce_horizon": False, "messages": True},
]


@pytest.mark.parametrize("kwargs", BARGAINING_GAMES)
def test_bargaining_scripted_play(kwargs: dict[str, Any]) -> None:
    game = bargaining.env(**kwargs)
    pairs = itertools.product(scripted_names("mercato/Bargaining-v0"), repeat=2)
    assert min(play_scripted(game, pairs, (ALICE, BOB), read_bargaining)) >= 2


@pytest.mark.parametrize("kwargs", BARGAINING_GAMES)
def test_bargaining_random_play(kwargs: dict[str, Any]) -> None:
    assert min(play_random(bargaining.env(**kwargs), read_bargaining)) >= 2


def bargaining_start(**kwargs: Any) -> tuple[Any, Any, Any]:
    game = bargaining.env(**kwargs)
    offer = {"decision": 0, "alice_share": np.array([0.7]), "message": ""}
    proposer, responder = first_observations(game, offer)
    return game, proposer, responder


def test_bargaining_schemas() -> None:
    game, proposer, responder = bargaining_start(messages=True, message_length=80)
    protocol = protocol_of(game)
    assert protocol.reply_schema(proposer, ALICE) == {
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["offer"]},
            "alice_gets": {"type": "number", "minimum": 0.0, "maximum": 10_000.0},
            "message": {"type": "string", "maxLength": 80},
        },
        "required": ["decision", "alice_gets", "message"],
        "additionalProperties": False,
    }
    assert protocol.reply_schema(responder, BOB)["properties"] == {
        "decision": {"type": "string", "enum": ["accept", "reject"]}
    }
    game.step({"decision": 2, "alice_share": np.array([0.0]), "message": ""})
    bob_proposes = game.last()[0]
    schema = protocol.reply_schema(bob_proposes, BOB)
    assert list(schema["properties"]) == ["decision", "bob_gets", "message"]
    action = parse(
        game, {"decision": "offer", "bob_gets": 6000, "message": "Fair."}, bob_proposes, BOB
    )
    assert action["alice_share"][0] == pytest.approx(0.4) and action["message"] == "Fair."
    quiet = bargaining_start()[1]
    assert "message" not in protocol_of(bargaining.env()).reply_schema(quiet, ALICE)["properties"]


def test_bargaining_json_offers() -> None:
    game, proposer, _ = bargaining_start(messages=True, message_length=5)
    assert parse(game, {"decision": "offer", "alice_gets": 2500}, proposer, ALICE)["alice_share"][
        0
    ] == pytest.approx(0.25)
    both = {"decision": "offer", "alice_gets": 7000, "bob_gets": 3000, "message": "Deal? Yes"}
    action = parse(game, both, proposer, ALICE)
    assert action["alice_share"][0] == pytest.approx(0.7) and action["message"] == "Deal?"
    other = parse(game, {"decision": "Offer", "bob_gets": 10_000, "message": None}, proposer, ALICE)
    assert other["alice_share"][0] == 0.0 and other["message"] == ""
    silent = bargaining_start()
    dropped = parse(
        silent[0], {"decision": "offer", "alice_gets": 1, "message": "hi"}, silent[1], ALICE
    )
    assert dropped["message"] == ""


@pytest.mark.parametrize(
    ("data", "error"),
    [({"decision": "offer", "alice_gets": 10_000.01}, "'alice_gets': must be from 0 to 10000"),
     ({"decision": "offer", "alice_gets": -1}, "field 'alice_gets'"),
     ({"decision": "offer", "alice_gets": 10**400}, "field 'alice_gets'"),
     ('{"decision": "offer", "alice_gets": NaN}', "field 'alice_gets'"),
     ({"decision": "offer", "alice_gets": True}, "field 'alice_gets'"),
     ({"decision": "offer", "alice_gets": "5000"}, "field 'alice_gets'"),
     ({"decision": "offer", "bob_gets": 10_001}, "field 'bob_gets'"),
     ({"decision": "offer"}, "needs the field 'alice_gets'"),
     ({"alice_gets": 5000}, "needs the field 'decision'"),
     ({"decision": "offer", "alice_gets": 6000, "bob_gets": 6000}, "must sum to 10000"),
     ({"decision": "offer", "alice_gets": 5000, "share": 1}, "unexpected field 'share'"),
     ({"decision": "accept"}, "field 'decision': there is no offer to accept or reject"),
     ({"decision": "counter", "alice_gets": 1}, "field 'decision': expected 'offer'"),
     ('{"decision": "offer", "alice_gets": ', "not valid JSON")],
)  # fmt: skip
def test_bargaining_bad_json_offers(data: Any, error: str) -> None:
    game, proposer, _ = bargaining_start()
    with pytest.raises(ActionParseError, match=error):
        parse(game, data, proposer, ALICE)


def test_bargaining_json_responses() -> None:
    game, _, responder = bargaining_start()
    assert (
        parse(game, {"decision": "accept"}, responder, BOB)["decision"] == bargaining_rules.ACCEPT
    )
    assert parse(game, {"decision": "REJECT", "message": "no"}, responder, BOB)["decision"] == 2
    with pytest.raises(ActionParseError, match="field 'decision': you are responding"):
        parse(game, {"decision": "offer", "bob_gets": 5000}, responder, BOB)
    with pytest.raises(ActionParseError, match="field 'decision': expected 'accept' or 'reject'"):
        parse(game, {"decision": "maybe"}, responder, BOB)
    with pytest.raises(ActionParseError, match="unexpected field 'bob_gets'"):
        parse(game, {"decision": "reject", "bob_gets": 5000}, responder, BOB)
    with pytest.raises(ActionParseError, match="not Alice's turn"):
        parse(game, {"decision": "accept"}, game.observe(ALICE), ALICE)
    assert protocol_of(game).reply_schema(game.observe(ALICE), ALICE) is None


@pytest.mark.parametrize(
    "reply",
    ['```json\n{"decision": "offer", "alice_gets": 2500}\n```',
     '```\n{"decision": "offer", "alice_gets": 2500}```',
     '`{"decision": "offer", "alice_gets": 2500}`',
     '  {"decision": "offer", "alice_gets": 2500}\n'],
)  # fmt: skip
def test_bargaining_fenced_json(reply: str) -> None:
    game, proposer, _ = bargaining_start()
    assert parse(game, reply, proposer, ALICE)["alice_share"][0] == pytest.approx(0.25)


def test_bargaining_reply_json_keeps_the_share() -> None:
    """The amount written gives back the share to float64 rounding (within 2^-52), odd moneys and
    shares, both proposers; exactly for round shares of round moneys."""
    protocol = protocol_of(bargaining.env())
    shares = [0.0, 1 / 3, 0.1, 0.7, 0.123456789, 1e-9, 1.0, *np.random.default_rng(0).random(50)]
    for money, agent in itertools.product((0.37, 100.0, 123_456.789, 1e6 / 3), (ALICE, BOB)):
        obs = {"money": np.array([money]), "decision_mask": np.array([1, 0, 0])}
        obs["messages_allowed"] = 0
        for share in shares:
            action = {"decision": 0, "alice_share": np.array([share]), "message": ""}
            data = protocol.reply_json(action, obs, agent)
            back = protocol.parse(json.dumps(data), obs, agent)["alice_share"][0]
            assert abs(back - share) <= 2.0**-52, (money, agent, share, data)
            if money == 100.0 and share in (0.0, 0.1, 0.7, 1.0):
                assert back == share and data[f"{agent[:-2]}_gets"] == pytest.approx(
                    100 * (share if agent == ALICE else 1 - share)
                )


# Negotiation -----------------------------------------------------------------------------------

SELLER, BUYER = negotiation_rules.SELLER, negotiation_rules.BUYER


def read_negotiation(action: Any, obs: Any) -> tuple[Any, float, str]:
    if obs["decision_mask"][negotiation_rules.OFFER]:
        message = normalize_text(action["message"], 500) if obs["messages_allowed"] else ""
        return "offer", float(np.asarray(action["price"]).item()), message
    decision = action["decision"]
    kept = (negotiation_rules.ACCEPT, negotiation_rules.OUTSIDE)
    return (decision if decision in kept else "reject"), 0.0, ""


NEGOTIATION_GAMES = [
    {"horizon": 4},
    {"horizon": 6, "buyer_value_factor": 1.3, "messages": True, "message_length": 30},
    {"money": 100.0, "horizon": 30, "seller_value_factor": 0.8, "buyer_value_factor": 1.2},
    {"money": 1e6, "horizon": 5, "buyer_value_factor": 0.9, "complete_information": False},
    {"money": 0.5, "horizon": 9, "seller_value_factor": 7.0, "buyer_value_factor": 9.5},
    {"horizon": 25, "announce_horizon": False, "messages": True, "max_cycles": 8},
]


@pytest.mark.parametrize("kwargs", NEGOTIATION_GAMES)
def test_negotiation_scripted_play(kwargs: dict[str, Any]) -> None:
    game = negotiation.env(**kwargs)
    pairs = itertools.product(scripted_names("mercato/Negotiation-v0"), repeat=2)
    assert min(play_scripted(game, pairs, (SELLER, BUYER), read_negotiation)) >= 1


@pytest.mark.parametrize("kwargs", NEGOTIATION_GAMES)
def test_negotiation_random_play(kwargs: dict[str, Any]) -> None:
    assert min(play_random(negotiation.env(**kwargs), read_negotiation)) >= 1


def negotiation_start(**kwargs: Any) -> tuple[Any, Any, Any]:
    game = negotiation.env(horizon=3, **kwargs)
    offer = {"decision": 0, "price": np.array([9500.0]), "message": ""}
    proposer, responder = first_observations(game, offer)
    return game, proposer, responder


def test_negotiation_schemas() -> None:
    game, proposer, responder = negotiation_start(messages=True, message_length=60)
    protocol = protocol_of(game)
    assert protocol.reply_schema(proposer, SELLER)["properties"] == {
        "decision": {"type": "string", "enum": ["offer"]},
        "price": {"type": "number", "minimum": 0.0, "maximum": 100_000.0},
        "message": {"type": "string", "maxLength": 60},
    }
    assert protocol.reply_schema(responder, BUYER) == {
        "type": "object",
        "properties": {"decision": {"type": "string", "enum": ["accept", "reject", "outside"]}},
        "required": ["decision"],
        "additionalProperties": False,
    }
    assert protocol.reply_schema(game.observe(SELLER), SELLER) is None
    wide = negotiation.env(money=10.0, buyer_value_factor=8.0)
    wide.reset(seed=0)
    assert protocol_of(wide).reply_schema(wide.last()[0], SELLER)["properties"]["price"] == {
        "type": "number", "minimum": 0.0, "maximum": 160.0
    }  # fmt: skip


def test_negotiation_json_replies() -> None:
    game, proposer, responder = negotiation_start(messages=True, message_length=4)
    action = parse(
        game, {"decision": "offer", "price": 9123.5, "message": "Final!"}, proposer, SELLER
    )
    assert action["price"][0] == 9123.5 and action["message"] == "Fina"
    assert parse(game, {"decision": "offer", "price": 100_000}, proposer, SELLER)["price"][0] == 1e5
    for word, decision in (("accept", 1), ("reject", 2), ("outside", 3)):
        assert parse(game, {"decision": word}, responder, BUYER)["decision"] == decision
    fenced = '```json\n{"decision": "outside"}\n```'
    assert parse(game, fenced, responder, BUYER)["decision"] == negotiation_rules.OUTSIDE


@pytest.mark.parametrize(
    ("data", "proposing", "error"),
    [({"decision": "offer", "price": 100_000.5}, True, "field 'price': must be from 0 to 100000"),
     ({"decision": "offer", "price": -0.01}, True, "field 'price'"),
     ({"decision": "offer", "price": None}, True, "field 'price'"),
     ({"decision": "offer"}, True, "needs the field 'price'"),
     ({"decision": "outside"}, True, "field 'decision': there is no offer to respond to"),
     ({"decision": "offer", "price": 9000}, False, "field 'decision': you are responding"),
     ({"decision": "walk"}, False, "field 'decision': expected 'accept', 'reject' or 'outside'"),
     ({"decision": "accept", "price": 1}, False, "unexpected field 'price'")],
)  # fmt: skip
def test_negotiation_bad_json(data: Any, proposing: bool, error: str) -> None:
    game, proposer, responder = negotiation_start()
    with pytest.raises(ActionParseError, match=error):
        if proposing:
            parse(game, data, proposer, SELLER)
        else:
            parse(game, data, responder, BUYER)


# Persuasion ------------------------------------------------------------------------------------

P_SELLER, P_BUYER = persuasion_rules.SELLER, persuasion_rules.BUYER


def read_persuasion(action: Any, obs: Any) -> tuple[Any, float, str]:
    choice = action["recommend"] if "recommend_mask" in obs else action["decision"]
    message = normalize_text(action["message"], 500) if obs["text_messages"] else ""
    return int(choice), 0.0, message


PERSUASION_GAMES = [
    {"rounds": 5},
    {"rounds": 5, "message_type": "text", "message_length": 50},
    {"rounds": 4, "message_type": "text", "buyer_memory": "myopic", "p_high": 0.3},
    {"rounds": 4, "complete_information": False, "value_high": 2.5, "money": 100.0},
]


@pytest.mark.parametrize("kwargs", PERSUASION_GAMES)
def test_persuasion_scripted_play(kwargs: dict[str, Any]) -> None:
    game = persuasion.env(**kwargs)
    names = scripted_names("mercato/Persuasion-v0")
    sellers = [name for name in names if name in ("persuasion/commitment", "persuasion/truthful")]
    buyers = [name for name in names if name not in sellers]
    assert sellers and buyers
    decisions = play_scripted(
        game, itertools.product(sellers, buyers), (P_SELLER, P_BUYER), read_persuasion
    )
    assert set(decisions) == {2 * kwargs["rounds"]}


@pytest.mark.parametrize("kwargs", PERSUASION_GAMES)
def test_persuasion_random_play(kwargs: dict[str, Any]) -> None:
    assert set(play_random(persuasion.env(**kwargs), read_persuasion)) == {2 * kwargs["rounds"]}


def test_persuasion_json_replies() -> None:
    game = persuasion.env(message_type="text", message_length=20)
    seller, buyer = first_observations(game, {"recommend": 1, "message": ""})
    protocol = protocol_of(game)
    assert protocol.reply_schema(seller, P_SELLER)["properties"] == {
        "decision": {"type": "string", "enum": ["do_not_recommend", "recommend"]},
        "message": {"type": "string", "maxLength": 20},
    }
    assert protocol.reply_schema(buyer, P_BUYER)["properties"]["decision"]["enum"] == [
        "pass",
        "buy",
    ]
    assert parse(game, {"decision": "recommend", "message": "Great value!"}, seller, P_SELLER) == {
        "recommend": 1, "message": "Great value!"
    }  # fmt: skip
    assert parse(game, '```json\n{"decision": "pass", "message": ""}\n```', buyer, P_BUYER) == {
        "decision": 0, "message": ""
    }  # fmt: skip
    assert parse(game, {"decision": "yes"}, buyer, P_BUYER)["decision"] == 1
    with pytest.raises(ActionParseError, match="field 'decision': you are the seller"):
        parse(game, {"decision": "buy"}, seller, P_SELLER)
    with pytest.raises(ActionParseError, match="field 'decision': you are the buyer"):
        parse(game, {"decision": "recommend"}, buyer, P_BUYER)
    with pytest.raises(ActionParseError, match="field 'decision': expected 'buy' or 'pass'"):
        parse(game, {"decision": "maybe"}, buyer, P_BUYER)
    with pytest.raises(ActionParseError, match="field 'message'"):
        parse(game, {"decision": "buy", "message": 5}, buyer, P_BUYER)
    with pytest.raises(ActionParseError, match="unexpected field 'price'"):
        parse(game, {"decision": "buy", "price": 5}, buyer, P_BUYER)
    with pytest.raises(ActionParseError, match="not the seller's turn"):
        parse(game, {"decision": "recommend"}, game.observe(P_SELLER), P_SELLER)
    binary = persuasion.env()
    seller, _ = first_observations(binary, {"recommend": 1, "message": ""})
    assert "message" not in protocol_of(binary).reply_schema(seller, P_SELLER)["properties"]
    dropped = parse(binary, {"decision": "recommend", "message": "hi"}, seller, P_SELLER)
    assert dropped == {"recommend": 1, "message": ""}
