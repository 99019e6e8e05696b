"""The marketplace's structured replies: every reply its schema admits is a valid action, at the
decisions of whole scripted episodes, and JSON replies that name the wrong thing say which field."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

import agents.scripted  # noqa: F401  (registers the players)
from agents.registry import make_policy
from envs.core.protocol import ActionParseError
from envs.marketplace import protocol_json
from envs.marketplace.actions import MESSAGE, PAY, PROPOSE, SEARCH
from envs.marketplace.env import MarketplaceEnv
from envs.marketplace.spaces import MAX_QUANTITY, QUERY_CHARS, TEXT_CHARS
from sim.llm.schema_sample import sample_instance
from tests.envs.structured_checks import check_structured

SETTINGS = (
    ({"n_customers": 2, "market_seed": 0, "max_bandwidth": 4, "days": 2}, "marketplace/careful",
     "marketplace/honest"),
    ({"design": "competitive", "max_lines": 3, "max_ticks": 6, "wait_ticks": 2,
      "customer_latency": {"low": 1, "high": 3}}, "marketplace/impatient",
     "marketplace/discounter"),
    ({"n_customers": 2, "domain": "contractors", "search_algorithm": "perfect",
      "max_proposals": 2, "max_inquiries": 2, "text_observations": False},
     "marketplace/price-only", "marketplace/manipulator"),
)  # fmt: skip


def play_checking(
    env: MarketplaceEnv, seed: int, customer: str, business: str, stepped: int = 2
) -> dict[str, int]:
    """One scripted episode, checking the structured replies at every decision; ``stepped``
    random schema instances per decision are also parsed and carried out in a copy of the env,
    which must accept them. Returns how many decisions of each role and kind it checked."""
    rng = np.random.default_rng(seed)
    observations, _ = env.reset(seed=seed)
    policies = {
        agent: make_policy(customer if agent.startswith("customer") else business, env, seed=i)
        for i, agent in enumerate(env.possible_agents)
    }
    checked = dict.fromkeys(("customer", "business", "pay", "propose", "ask", "end"), 0)
    while env.agents:
        actions = {}
        for agent in env.deciding_agents():
            observation = observations[agent]
            schema = check_structured(env.protocol, observation, agent, rng, samples=6)
            kinds = _kinds(schema)
            checked[agent.rpartition("_")[0]] += 1
            for kind in ("pay", "propose", "ask", "end"):
                checked[kind] += kind in kinds
            for _ in range(stepped):
                reply = json.dumps(sample_instance(schema, rng))
                action = env.protocol.parse(reply, observation, agent)
                assert env.action_space(agent).contains(action), reply
                trial = copy.deepcopy(env)
                trial.step({agent: action})
                trader = trial._traders[agent]
                assert trader.status == 0, (reply, trader.detail)
            actions[agent] = policies[agent].act(observation, agent)
        observations, *_ = env.step(actions)
    return checked


def _kinds(schema: dict[str, Any]) -> set[str]:
    return {
        v
        for variant in schema.get("anyOf", [schema])
        for v in variant["properties"]["kind"]["enum"]
    }


@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_every_reply_the_schema_admits_is_a_valid_action(setting):
    params, customer, business = SETTINGS[setting]
    env = MarketplaceEnv(**params)
    totals = dict.fromkeys(("customer", "business", "pay", "propose", "ask", "end"), 0)
    for seed in range(3):
        for key, count in play_checking(env, seed, customer, business).items():
            totals[key] += count
    assert all(totals.values()), totals


@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_players_answering_random_schema_instances_are_never_refused(setting):
    """What a constrained decoder with no sense at all would do: every agent answers a random
    instance of its schema at every decision. The env refuses none of them."""
    env = MarketplaceEnv(**SETTINGS[setting][0])
    rng = np.random.default_rng(setting)
    kinds: set[str] = set()
    for seed in range(4):
        observations, _ = env.reset(seed=seed)
        while env.agents:
            actions = {}
            for agent in env.deciding_agents():
                schema = env.protocol.reply_schema(observations[agent], agent)
                reply = random_reply(schema, rng)
                kinds.add(reply["kind"])
                actions[agent] = env.protocol.parse(json.dumps(reply), observations[agent], agent)
            observations, *_ = env.step(actions)
        refused = [entry for entry in env.log if entry[3] != "ok"]
        assert not refused, refused[:3]
    assert {"search", "ask", "message", "propose", "end"} <= kinds  # pay: rarely affordable


def random_reply(schema: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A random instance of ``schema`` that rarely ends (so episodes get somewhere)."""
    variants = schema.get("anyOf", [schema])
    weights = np.array([0.05 if _kinds(v) == {"end"} else 1.0 for v in variants])
    return sample_instance(variants[rng.choice(len(variants), p=weights / weights.sum())], rng)


def test_schema_bounds_follow_the_env():
    space = MarketplaceEnv(n_customers=1).action_space("customer_0")
    limits = (space["query"].max_length, space["text"].max_length, space["quantities"].high.max())
    assert limits == (QUERY_CHARS, TEXT_CHARS, MAX_QUANTITY)  # the protocol's bounds
    assert space["unit_prices"].high.max() == protocol_json.MAX_UNIT_PRICE
    assert space["total"].high.max() == protocol_json.MAX_TOTAL


@pytest.fixture
def market() -> MarketplaceEnv:
    env = MarketplaceEnv(n_customers=3, market_seed=0, search_bandwidth=5, max_bandwidth=8)
    env.reset(seed=0)
    return env


def asked_market(env: MarketplaceEnv) -> tuple[dict[str, Any], tuple[str, dict[str, Any]]]:
    """customer_0 searched and asked every hit; the businesses proposed at list price. Returns
    customer_0's observation then and a business's observation when it had the inquiry."""
    protocol = env.protocol
    start = env._observations["customer_0"]
    obs, *_ = env.step({"customer_0": protocol.parse('{"kind": "search", "query": ""}', start,
                                                     "customer_0")})  # fmt: skip
    hits = [f"business_{int(b)}" for b in obs["customer_0"]["results"] if b >= 0]
    ask = json.dumps({"kind": "ask", "to": hits, "text": ""})
    obs, *_ = env.step({"customer_0": protocol.parse(ask, obs["customer_0"], "customer_0")})
    asked = None
    for _ in range(3):
        actions = {}
        for agent in env.deciding_agents():
            if agent.startswith("business"):
                asked = asked or (agent, obs[agent])
                actions[agent] = protocol.valid_actions(obs[agent], agent)[-1].action
        obs, *_ = env.step(actions)
    return obs["customer_0"], asked


def test_json_replies_play_like_commands(market):
    protocol = market.protocol
    start = market._observations["customer_0"]
    search = protocol.parse('```json\n{"kind": "search", "query": "  "}\n```', start, "customer_0")
    needed = " ".join(protocol.domain.items[i] for i in start["request_items"] if i >= 0)
    assert search["kind"] == SEARCH and search["query"] == needed
    customer, (business, business_obs) = asked_market(market)
    open_ids = [int(p) for p in customer["proposals"] if p >= 0]
    assert open_ids
    pay = protocol.parse(
        json.dumps({"kind": "pay", "proposal": open_ids[0]}), customer, "customer_0"
    )
    assert pay["kind"] == PAY and pay["total"][0] == customer["proposal_totals"][0]
    blank = protocol.parse(
        json.dumps({"kind": "message", "to": ["business_" + str(int(customer["results"][0]))],
                    "text": " "}), customer, "customer_0",
    )  # fmt: skip
    assert blank["kind"] == MESSAGE and blank["text"] == protocol_json.ASK_TEXT
    assert (blank["items"] >= 0).sum() == (customer["request_items"] >= 0).sum()
    schema = protocol.reply_schema(business_obs, business)
    propose = next(v for v in schema["anyOf"] if v["properties"]["kind"]["enum"] == ["propose"])
    line = propose["properties"]["lines"]["items"]
    line = line.get("anyOf", [line])[0]["properties"]
    name, low = line["item"]["enum"][0], line["unit_price"]["minimum"]
    reply = {"kind": "propose", "customer": "customer_0", "expires_in": 3,
             "lines": [{"item": name, "quantity": 2, "unit_price": low}]}  # fmt: skip
    action = protocol.parse(json.dumps(reply), business_obs, business)
    assert action["kind"] == PROPOSE and action["total"][0] == pytest.approx(2 * low)
    assert action["expiry"][0] == 3 and market.action_space(business).contains(action)


def test_json_errors_name_the_field(market):
    protocol = market.protocol
    customer, (business, business_obs) = asked_market(market)
    parse = protocol.parse
    hit = f"business_{int(customer['results'][0])}"
    cases = [
        ({"kind": "propose"}, customer, "customer_0", "field 'kind'"),
        ({"kind": "pay", "proposal": 999}, customer, "customer_0", "field 'proposal'"),
        ({"kind": "pay", "proposal": "7"}, customer, "customer_0", "field 'proposal'"),
        ({"kind": "ask", "to": ["business_999"], "text": ""}, customer, "customer_0", "field 'to'"),
        ({"kind": "ask", "to": [], "text": ""}, customer, "customer_0", "field 'to'"),
        ({"kind": "message", "to": [hit]}, customer, "customer_0", "field 'text'"),
        ({"kind": "search", "query": 3}, customer, "customer_0", "field 'query'"),
        ({"kind": "pay"}, business_obs, business, "field 'kind'"),
    ]
    schema = protocol.reply_schema(business_obs, business)
    propose = next(v for v in schema["anyOf"] if v["properties"]["kind"]["enum"] == ["propose"])
    line = propose["properties"]["lines"]["items"]
    line = line.get("anyOf", [line])[0]["properties"]
    name, low = line["item"]["enum"][0], line["unit_price"]["minimum"]

    def proposal(**changes: Any) -> dict[str, Any]:
        row = {"item": name, "quantity": 1, "unit_price": low, **changes.pop("line", {})}
        return {"kind": "propose", "customer": "customer_0", "lines": [row], "expires_in": 2,
                **changes}  # fmt: skip

    cases += [
        (proposal(customer="customer_9"), business_obs, business, "field 'customer'"),
        (proposal(line={"item": "unicorn steak"}), business_obs, business, "lines[0].item"),
        (proposal(line={"unit_price": low - 0.01}), business_obs, business, "lines[0].unit_price"),
        (proposal(line={"quantity": 0}), business_obs, business, "lines[0].quantity"),
        (proposal(line={"quantity": 1.5}), business_obs, business, "lines[0].quantity"),
        (proposal(expires_in=10_000), business_obs, business, "field 'expires_in'"),
        (proposal(lines=[]), business_obs, business, "field 'lines'"),
    ]
    for reply, observation, agent, field in cases:
        with pytest.raises(ActionParseError, match=field.replace("[", r"\[").replace("]", r"\]")):
            parse(json.dumps(reply), observation, agent)
    with pytest.raises(ActionParseError, match="not valid JSON"):
        parse('{"kind": "wait"', customer, "customer_0")


def test_a_busy_agent_may_only_wait():
    market = MarketplaceEnv(n_customers=2, market_seed=0, customer_latency=3)
    start, _ = market.reset(seed=0)
    search = market.protocol.valid_actions(start["customer_0"], "customer_0")[0].action
    obs, *_ = market.step({"customer_0": search})
    busy = obs["customer_0"]
    assert not busy["ready"]
    schema = market.protocol.reply_schema(busy, "customer_0")
    assert schema["properties"]["kind"]["enum"] == ["wait"]
