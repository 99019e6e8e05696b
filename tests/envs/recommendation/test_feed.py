"""`mercato/RecFeed-v0`: conformance, determinism, the clickbait oracle, commands, protocol."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import agents.scripted.feed  # noqa: F401  (registers the feed policies)
from agents.registry import list_policies, make_policy
from envs.core.checks import check_aec_env, first_difference
from envs.core.docstring import missing_doc_sections
from envs.core.protocol import ActionParseError
from envs.recommendation.feed import RECOMMENDER, USER, env, raw_env
from tests.envs.recommendation.test_commands import toy_catalog

ENV_ID = "mercato/RecFeed-v0"
EPISODES = 50
FAST = {"n_items": 300, "text_observations": False}


@pytest.mark.parametrize(
    "params",
    [
        {"n_items": 150, "max_steps": 12},
        {"domain": "games", "n_items": 200, "slate_size": 3, "reward": "satisfaction",
         "catalog_seed": 4, "text_observations": False, "history": 3},
        {"catalog": toy_catalog(), "slate_size": 4, "max_steps": 20, "churn_hazard": 0.0},
    ],
)  # fmt: skip
def test_conformance(params):
    check_aec_env(lambda: env(**params), num_cycles=40, max_steps=400)


def test_the_docstring_follows_the_template():
    assert missing_doc_sections(raw_env) == []


def test_the_factory_publishes_its_parameters():
    names = set(inspect.signature(env).parameters)
    assert {"render_mode", "domain", "n_items", "slate_size", "reward", "command_parser"} <= names
    assert set(inspect.signature(raw_env.__init__).parameters) == names | {"self"}


def play(game: Any, recommender: str, seed: int, **user: Any) -> dict[str, Any]:
    """One episode with a scripted recommender and ``feed/user``: metrics, returns, actions."""
    game.reset(seed=seed)
    policies = {
        RECOMMENDER: make_policy(f"feed/{recommender}", game, seed=seed),
        USER: make_policy("feed/user", game, seed=seed + 10_000, **user),
    }
    returns = dict.fromkeys(game.possible_agents, 0.0)
    actions: list[Any] = []
    final: dict[str, Any] = {}
    for agent in game.agent_iter():
        observation, reward, terminated, truncated, info = game.last()
        returns[agent] += reward
        if terminated or truncated:
            final = final or info
            game.step(None)
            continue
        action = policies[agent].act(observation, agent)
        actions.append(action)
        game.step(action)
    return {"metrics": final["metrics"], "returns": returns, "actions": actions}


def test_scripted_episodes_are_reproducible():
    shared = env(n_items=200)
    first = [play(shared, "satisfaction", seed) for seed in (3, 4)]
    again = [play(shared, "satisfaction", seed) for seed in (3, 4)]
    fresh = [play(env(n_items=200), "satisfaction", seed) for seed in (3, 4)]
    assert first_difference(first, again) is None
    assert first_difference(first, fresh) is None
    assert first[0]["actions"][0]["slate"].tolist() != first[1]["actions"][0]["slate"].tolist()


@pytest.fixture(scope="module")
def oracle() -> dict[str, dict[str, float]]:
    """Clickbait and satisfaction recommenders with the same users over `EPISODES` seeds."""
    game = env(**FAST)
    summary = {}
    for name in ("clickbait", "satisfaction"):
        runs = [play(game, name, seed)["metrics"] for seed in range(EPISODES)]
        keys = ("clicks", "final_satisfaction", "mean_satisfaction", "churned", "steps")
        means = {key: float(np.mean([m[key] for m in runs])) for key in keys}
        judged = sum(m["commands_judged"] for m in runs)
        means["command_satisfaction"] = sum(m["commands_honoured"] for m in runs) / judged
        means["commands_judged"] = judged
        summary[name] = means
    return summary


def test_clickbait_earns_more_clicks_and_less_satisfaction(oracle):
    bait, good = oracle["clickbait"], oracle["satisfaction"]
    assert bait["clicks"] > good["clicks"] + 1.5, oracle
    assert bait["mean_satisfaction"] < good["mean_satisfaction"] - 0.1, oracle
    assert bait["final_satisfaction"] < good["final_satisfaction"] - 0.15, oracle
    assert bait["churned"] > good["churned"] + 0.15, oracle


def test_the_satisfaction_recommender_honours_commands_and_clickbait_does_not(oracle):
    bait, good = oracle["clickbait"], oracle["satisfaction"]
    assert good["commands_judged"] >= 50 and bait["commands_judged"] >= 50
    assert good["command_satisfaction"] >= 0.9, oracle
    assert bait["command_satisfaction"] < good["command_satisfaction"] - 0.3, oracle


def test_rewards_are_clicks_or_satisfaction_change():
    for reward in ("clicks", "satisfaction"):
        result = play(env(reward=reward, **FAST), "clickbait", seed=5)
        metrics, returns = result["metrics"], result["returns"]
        change = metrics["final_satisfaction"] - metrics["initial_satisfaction"]
        assert returns[USER] == pytest.approx(change)
        expected = metrics["clicks"] if reward == "clicks" else change
        assert returns[RECOMMENDER] == pytest.approx(expected)
        assert metrics["click_rate"] == pytest.approx(metrics["clicks"] / metrics["steps"])


def show(game: raw_env, items: list[int], message: str = "") -> None:
    game.step(game.protocol.recommender_action(items, message))


def respond(game: raw_env, response: int, command: str = "") -> None:
    game.step(game.protocol.user_action(response, command))


def test_a_command_becomes_a_standing_constraint_judged_on_the_next_slate():
    game = raw_env(catalog=toy_catalog(), slate_size=3, churn_hazard=0.0, max_steps=4)
    game.reset(seed=0)
    show(game, [0, 6, 1], "Mysteries today!")
    assert "Mysteries today!" in game.observe(USER)["text"]
    respond(game, 4, "no more mysteries and under $20")
    seen = game.observe(RECOMMENDER)
    assert seen["excluded_categories"].tolist() == [1, 0, 0, 0, 0]
    assert seen["price_ceiling"][0] == 20.0 and seen["last_command"] == 1
    assert np.flatnonzero(seen["item_allowed"]).tolist() == [2, 3, 5, 7, 8]
    assert "no mystery; under $20.00" in seen["text"]
    assert game.observe(USER)["excluded_categories"][0] == 1
    show(game, [2, 3, 5])  # honoured
    respond(game, 1)
    respond_before = game.violating_slates
    show(game, [0, 2, 3])  # a mystery again: a violating slate
    assert game.violating_slates == respond_before + 1
    respond(game, 4, "mumble")
    assert game.observe(RECOMMENDER)["last_command"] == 2
    show(game, [3])
    respond(game, 0)
    metrics = game.infos[USER]["metrics"]
    assert game.truncations[USER] and not game.terminations[USER]
    assert metrics["command_count"] == 2 and metrics["commands_understood"] == 1
    assert metrics["commands_judged"] == 1 and metrics["command_satisfaction_rate"] == 1.0
    assert metrics["violation_rate"] == 0.25 and metrics["clicks"] == 1 and metrics["steps"] == 4


def test_more_like_this_and_leaving():
    game = raw_env(catalog=toy_catalog(), slate_size=2, churn_hazard=0.0)
    game.reset(seed=1)
    show(game, [1, 0])
    respond(game, 1)  # clicks Dragon Road
    show(game, [7, 9])
    respond(game, 3, "more like this")
    assert game.observe(RECOMMENDER)["similar_to"][0] == 1  # the last click
    show(game, [5, 8])  # Dragon Sea is like Dragon Road, Dragon Hills is fantasy only
    assert game.observe(RECOMMENDER)["similar_to"][0] == -1  # spent
    respond(game, 4)
    metrics = game.infos[RECOMMENDER]["metrics"]
    assert game.terminations[RECOMMENDER] and metrics["churned"] == 1 and metrics["left"] == 1
    assert metrics["commands_honoured"] == 1


def test_satisfaction_follows_consumed_quality_and_low_satisfaction_churns():
    catalog = toy_catalog()
    game = raw_env(catalog=catalog, slate_size=1, churn_hazard=0.0, churn_threshold=0.4,
                   fit_weight=0.0, max_steps=50)  # fmt: skip
    game.reset(seed=2)
    start = game.user.satisfaction
    for _ in range(3):
        show(game, [1])  # quality 0.9
        respond(game, 1)
    assert game.user.satisfaction > start
    steps = 0
    while not game.terminations[USER]:
        show(game, [2])  # quality 0.2: catchy but poor
        respond(game, 1)
        steps += 1
    assert game.infos[USER]["metrics"]["final_satisfaction"] < 0.4 and steps < 30


def test_the_catalog_comes_from_the_reset_seed_unless_fixed():
    free = raw_env(n_items=150)
    free.reset(seed=1)
    first = free.catalog
    free.reset(seed=2)
    assert free.catalog.seed != first.seed and len(free.catalog) == 150
    fixed = raw_env(n_items=150, catalog_seed=9)
    for seed in (1, 2):
        fixed.reset(seed=seed)
        assert fixed.catalog.seed == 9


def test_the_recommender_never_sees_the_users_mind():
    game = raw_env(n_items=150)
    game.reset(seed=0)
    seen = game.observe(RECOMMENDER)
    assert not {"interests", "value_interests", "satisfaction", "budget"} & set(seen)
    mind = game.observe(USER)
    assert mind["interests"].tolist() == game.user.interests.tolist()
    assert game.observation_space(RECOMMENDER).contains(seen)
    assert game.observation_space(USER).contains(mind)


def test_bad_actions_raise_value_errors_naming_the_agent():
    game = env(catalog=toy_catalog(), slate_size=3)
    game.reset(seed=0)
    with pytest.raises(ValueError, match="recommender_0"):
        game.step({"slate": np.array([0, 1, 99]), "message": ""})
    game.step({"slate": np.array([0, -1, -1]), "message": ""})
    with pytest.raises(ValueError, match="user_0: response 2 clicks an empty slot"):
        game.step({"response": 2, "command": ""})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"domain": "movies"}, "domain must be one of"),
        ({"n_items": 5}, r"n_items must be an int in \[100, 100000\]"),
        ({"slate_size": 0}, r"slate_size must be an int in \[1, 50\]"),
        ({"reward": "revenue"}, "reward must be one of"),
        ({"churn_threshold": 1.5}, r"churn_threshold must be a number in \[0, 1\)"),
        ({"memory_discount": 1.0}, "memory_discount must be a number"),
        ({"catalog_seed": -1}, "catalog_seed must be None or an int"),
        ({"command_parser": object()}, "command_parser must be None"),
        ({"catalog": "books"}, "catalog must be a non-empty Catalog"),
        ({"text_observations": 1}, "text_observations must be true or false"),
        ({"colour": "red"}, "unknown parameter 'colour'"),
        ({"catalog": toy_catalog(), "slate_size": 11}, "slate_size must be at most n_items"),
    ],
)
def test_bad_parameters_fail_naming_the_field(params, message):
    with pytest.raises(ValueError, match=message):
        raw_env(**params)


def test_the_text_protocol_parses_both_roles():
    game = raw_env(catalog=toy_catalog(), slate_size=3)
    game.reset(seed=0)
    protocol = game.protocol
    seen = game.observe(RECOMMENDER)
    action = protocol.parse("SHOW: 4, 7\nSAY: two picks for you", seen, RECOMMENDER)
    assert action["slate"].tolist() == [4, 7, -1] and action["message"] == "two picks for you"
    for bad, error in [("hello", "start with SHOW"), ("SHOW: 1, 2, 3, 4", "at most 3"),
                       ("SHOW: 12", "ids are 0-9")]:  # fmt: skip
        with pytest.raises(ActionParseError, match=error):
            protocol.parse(bad, seen, RECOMMENDER)
    assert protocol.parse("SHOW: 1, 1", seen, RECOMMENDER)["slate"].tolist() == [1, -1, -1]
    for valid in protocol.valid_actions(seen, RECOMMENDER):
        assert game.action_space(RECOMMENDER).contains(valid.action)
    game.step(action)
    mind = game.observe(USER)
    assert protocol.parse("CLICK: 2", mind, USER)["response"] == 2
    assert protocol.parse("skip", mind, USER)["response"] == 0
    assert protocol.parse("COMMAND: no more history", mind, USER) == {
        "response": 4,
        "command": "no more history",
    }
    assert protocol.parse("LEAVE", mind, USER)["response"] == 5
    with pytest.raises(ActionParseError, match="slot 3 is empty"):
        protocol.parse("CLICK: 3", mind, USER)
    labels = [valid.label for valid in protocol.valid_actions(mind, USER)]
    assert labels[:3] == ["SKIP", "CLICK: 1", "CLICK: 2"] and labels[-1] == "LEAVE"
    assert "2. [7] Moon Station" in protocol.render(mind, USER)


def test_feed_policies_are_registered():
    names = {p.name for p in list_policies(ENV_ID)}
    expected = {"feed/clickbait", "feed/satisfaction", "feed/popular", "feed/random", "feed/user"}
    assert expected <= names
    game = env(**FAST)
    for name in ("popular", "random"):
        metrics = play(game, name, seed=1)["metrics"]
        assert 1 <= metrics["steps"] <= 30
