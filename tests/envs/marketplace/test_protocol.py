"""The marketplace's text protocol: commands parse to the right actions, errors say what's wrong."""

from __future__ import annotations

import numpy as np
import pytest

from envs.core.checks import first_difference
from envs.core.protocol import ActionParseError
from envs.marketplace.actions import MESSAGE, PAY, PROPOSE, SEARCH, WAIT
from envs.marketplace.env import MarketplaceEnv


@pytest.fixture
def env() -> MarketplaceEnv:
    env = MarketplaceEnv(n_customers=3, market_seed=0, search_bandwidth=5, max_bandwidth=8)
    env.reset(seed=0)
    return env


def customer_with_proposals(env: MarketplaceEnv):
    """Search, ask every hit, let the businesses propose: customer_0's observation then, and one
    business's observation when it had the inquiry to answer."""
    protocol = env.protocol
    obs, *_ = env.step(
        {
            "customer_0": protocol.parse(
                "SEARCH taquitos", env._observations["customer_0"], "customer_0"
            )
        }
    )
    obs, *_ = env.step(
        {"customer_0": protocol.parse("ASK all: a quote please", obs["customer_0"], "customer_0")}
    )
    asked = None
    for _ in range(3):
        actions = {}
        for agent in env.deciding_agents():
            if agent.startswith("business"):
                asked = asked or (agent, obs[agent])
                valid = protocol.valid_actions(obs[agent], agent)
                actions[agent] = valid[-1].action  # the last is a proposal when one is possible
        obs, *_ = env.step(actions)
    return obs["customer_0"], asked


def test_render_shows_the_view_and_the_allowed_commands(env):
    obs = env._observations["customer_0"]
    text = env.protocol.render(obs, "customer_0")
    assert "Request:" in text and text.endswith("Allowed now: WAIT, SEARCH, END. Your command:")
    obs, *_ = env.step({"customer_0": env.protocol.parse("SEARCH taquitos", obs, "customer_0")})
    assert env.protocol.render(obs["customer_0"], "customer_0").endswith(
        "Allowed now: WAIT, SEARCH, ASK, MESSAGE, END. Your command:"
    )
    assert "SEARCH <query>" in env.protocol.instructions("customer_0")
    assert "PROPOSE customer_N" in env.protocol.instructions("business_2")


def test_search_uses_the_market_algorithm_and_bandwidth(env):
    action = env.protocol.parse(
        "search  tacos al pastor", env._observations["customer_0"], "customer_0"
    )
    assert action["kind"] == SEARCH and action["query"] == "tacos al pastor"
    assert action["algorithm"] == 1 and action["bandwidth"][0] == 5
    assert env.action_space("customer_0").contains(action)


def test_ask_messages_every_hit_with_the_order(env):
    protocol = env.protocol
    obs, *_ = env.step(
        {
            "customer_0": protocol.parse(
                "SEARCH taquitos", env._observations["customer_0"], "customer_0"
            )
        }
    )
    obs = obs["customer_0"]
    action = protocol.parse("ASK all: quote please", obs, "customer_0")
    hits = [int(b) for b in obs["results"] if b >= 0]
    assert action["kind"] == MESSAGE and list(action["to"][: len(hits)]) == hits
    order = [int(i) for i in obs["request_items"] if i >= 0]
    assert list(action["items"][: len(order)]) == order
    named = protocol.parse("MESSAGE business_4, 7: hello there", obs, "customer_0")
    assert list(named["to"][:2]) == [4, 7] and named["text"] == "hello there"


def test_pay_takes_the_exact_total_and_refuses_unknown_ids(env):
    obs, _ = customer_with_proposals(env)
    open_ids = [int(p) for p in obs["proposals"] if p >= 0]
    assert open_ids
    action = env.protocol.parse(f"PAY #{open_ids[0]}", obs, "customer_0")
    assert action["kind"] == PAY and action["proposal"][0] == open_ids[0]
    assert action["total"][0] == obs["proposal_totals"][0]
    with pytest.raises(ActionParseError, match="proposal #999 is not open; open: #"):
        env.protocol.parse("PAY #999", obs, "customer_0")


def test_propose_parses_lines_quantities_and_expiry(env):
    _, (agent, business) = customer_with_proposals(env)
    names = env.protocol.domain.items
    action = env.protocol.parse(
        f"PROPOSE customer_1: 2 x {names[3]} @ $4.50; {names[5]} @ 10 expires 4", business, agent
    )
    assert action["kind"] == PROPOSE and action["to"][0] == 1
    assert list(action["items"][:3]) == [3, 5, -1]
    assert list(action["quantities"][:2]) == [2, 1]
    assert action["total"][0] == pytest.approx(19.0) and action["expiry"][0] == 4
    assert env.action_space(agent).contains(action)
    with pytest.raises(ActionParseError, match="is not an item name"):
        env.protocol.parse("PROPOSE customer_1: unicorn steak @ 3", business, agent)
    with pytest.raises(ActionParseError, match="is not '<item> @ <price>'"):
        env.protocol.parse(f"PROPOSE customer_1: {names[3]} for free", business, agent)


def test_errors_are_precise(env):
    obs = env._observations["customer_0"]
    parse = env.protocol.parse
    with pytest.raises(ActionParseError, match="unknown command 'BUY'"):
        parse("BUY everything", obs, "customer_0")
    with pytest.raises(ActionParseError, match="you cannot PAY now"):
        parse("PAY #1", obs, "customer_0")
    with pytest.raises(ActionParseError, match="only act as yourself"):
        parse("MESSAGE as customer_2: business_1: hi", obs, "customer_0")
    with pytest.raises(ActionParseError, match="no search results yet"):
        parse("ASK all: hi", obs, "customer_0")
    with pytest.raises(ActionParseError, match="empty reply"):
        parse("   ", obs, "customer_0")


def test_valid_actions_are_sensible_and_parse_to_their_actions(env):
    start = env._observations["customer_0"]
    labels = [v.label for v in env.protocol.valid_actions(start, "customer_0")]
    assert len(labels) == 1 and labels[0].startswith("SEARCH ")  # no END, no idle WAIT yet
    customer, (business, business_obs) = customer_with_proposals(env)
    cases = (("customer_0", customer, PAY), (business, business_obs, PROPOSE))
    for agent, observation, kind in cases:
        valid = env.protocol.valid_actions(observation, agent)
        assert kind in {v.action["kind"] for v in valid}
        assert "END" not in [v.label for v in valid]  # nothing paid yet
        for option in valid:
            parsed = env.protocol.parse(option.label, observation, agent)
            assert first_difference(parsed, option.action) is None, option.label
            assert env.action_space(agent).contains(option.action)
    assert env.protocol.safe_default(customer, "customer_0")["kind"] == WAIT


def test_render_without_text_observations_is_the_whole_view():
    env = MarketplaceEnv(n_customers=2, market_seed=0, text_observations=False)
    obs, _ = env.reset(seed=0)
    assert obs["customer_0"]["text"] == ""
    with_text = MarketplaceEnv(n_customers=2, market_seed=0).reset(seed=0)[0]["customer_0"]
    assert env.protocol.render(obs["customer_0"], "customer_0") == with_text["text"]
    assert "\nNeeded items: " in env.protocol.render(obs["customer_0"], "customer_0")
    assert "Customers waiting for your answer: none." in env.protocol.render(
        obs["business_0"], "business_0"
    )
    assert np.all(obs["business_0"]["inquiries"] == -1)
    obs, *_ = env.step({"customer_0": env.actions.message([0], "   ")})
    text = env.protocol.render(obs["customer_0"], "customer_0")
    assert "Last action: message, REJECTED (empty_message): a message needs text" in text
