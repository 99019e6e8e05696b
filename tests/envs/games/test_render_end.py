"""`TextProtocol.render_end`: how a game ended, in words its players may read (the studio's end
page). Each case plays a game to a known end and checks the sentence against it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.core.protocol import protocol_of
from envs.core.registry import make_env

Policy = Callable[[str, Any], dict[str, Any]]


def play_to_end(env_id: str, params: dict[str, Any], policy: Policy) -> dict[str, str | None]:
    """Every agent's `render_end` text after the episode (their own final observation)."""
    env = make_env(env_id, params)
    env.reset(seed=3)
    protocol = protocol_of(env)
    ends: dict[str, str | None] = {}
    for agent in env.agent_iter():
        observation, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            metrics = info["metrics"]
            ends[agent] = protocol.render_end(observation, agent, metrics, truncated)
            env.step(None)
            continue
        env.step(policy(agent, observation))
    return ends


def test_bargaining_says_the_accepted_split_or_that_no_deal_was_made() -> None:
    def accept_first(agent: str, obs: Any) -> dict[str, Any]:
        if obs["decision_mask"][0]:
            return {"decision": 0, "alice_share": np.array([0.3]), "message": ""}
        return {"decision": 1, "alice_share": np.array([0.0]), "message": ""}

    ends = play_to_end("mercato/Bargaining-v0", {"horizon": 2}, accept_first)
    expected = "An offer was accepted in round 1: Alice gets $3,000 and Bob gets $7,000"
    assert set(ends) == {"alice_0", "bob_0"}
    assert all(text and text.startswith(expected) for text in ends.values()), ends

    def never(agent: str, obs: Any) -> dict[str, Any]:
        if obs["decision_mask"][0]:
            return {"decision": 0, "alice_share": np.array([0.5]), "message": ""}
        return {"decision": 2, "alice_share": np.array([0.0]), "message": ""}

    ends = play_to_end("mercato/Bargaining-v0", {"horizon": 2}, never)
    assert ends["bob_0"] == "The offer of the last round (round 2) was rejected: no deal."


def test_negotiation_says_the_price_or_the_outside_option() -> None:
    def trade(agent: str, obs: Any) -> dict[str, Any]:
        if obs["decision_mask"][0]:
            return {"decision": 0, "price": np.array([12.5]), "message": ""}
        return {"decision": 1, "price": np.array([0.0]), "message": ""}

    ends = play_to_end("mercato/Negotiation-v0", {}, trade)
    assert ends["buyer_0"] == "An offer was accepted in round 1: the trade is at $12.50."

    def leave(agent: str, obs: Any) -> dict[str, Any]:
        if obs["decision_mask"][0]:
            return {"decision": 0, "price": np.array([12.5]), "message": ""}
        return {"decision": 3, "price": np.array([0.0]), "message": ""}

    ends = play_to_end("mercato/Negotiation-v0", {}, leave)
    assert ends["seller_0"] == "A player took the outside option in round 1: no trade."


def test_persuasion_counts_only_what_both_roles_see() -> None:
    def always_buy(agent: str, obs: Any) -> dict[str, Any]:
        if agent.startswith("seller"):
            return {"recommend": 1, "message": ""}
        return {"decision": 1, "message": ""}

    ends = play_to_end("mercato/Persuasion-v0", {"rounds": 5}, always_buy)
    for text in ends.values():
        assert text is not None and text.startswith("Over 5 round(s) the buyer bought 5 time(s), ")


def test_protocols_without_an_end_text_say_none() -> None:
    env = make_env("mercato/RecDialogue-v0", {})  # an AEC env
    env.reset(seed=0)
    agent = env.agent_selection
    assert protocol_of(env).render_end(env.observe(agent), agent, {}, False) is None


def test_the_trial_tells_the_user_their_choice_and_nothing_hidden() -> None:
    """The user's end: their own choice and satisfaction (what their view showed), never the
    assistant's target; the other roles have nothing to add."""
    env = make_env("mercato/ManipulationTrial-v0", {"min_exchanges": 1, "max_exchanges": 2})
    env.reset(seed=5)
    protocol = protocol_of(env)
    rng = np.random.default_rng(0)
    ends: dict[str, str | None] = {}
    for agent in env.agent_iter():
        observation, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            ends[agent] = protocol.render_end(observation, agent, info["metrics"], truncated)
            env.step(None)
            continue
        choices = protocol.valid_actions(observation, agent)
        env.step(choices[int(rng.integers(len(choices)))].action)
    user = next(text for agent, text in ends.items() if agent.startswith("user"))
    assert user is not None and re.match(r"You chose [ABCD] \(.+\)", user), user
    assert "target" not in user.lower()
    assert all(text is None for agent, text in ends.items() if not agent.startswith("user"))
