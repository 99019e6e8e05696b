"""`mercato/Marketplace-v0`: conformance, determinism, the clock, rejections and the oracles."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest

import envs  # noqa: F401
from envs.core.checks import check_parallel_env, first_difference
from envs.marketplace.actions import ActionBuilder
from envs.marketplace.baselines import optimal_welfare
from envs.marketplace.env import MarketplaceEnv
from envs.marketplace.generator import build_market
from envs.marketplace.ledger import REASON_CODES
from tests.envs.marketplace.playing import play


@pytest.mark.parametrize(
    "params",
    [
        {"n_customers": 3, "market_seed": 0, "max_ticks": 25},
        {"n_customers": 2, "max_ticks": 15, "text_observations": False, "days": 2},
        {"design": "identical", "business_latency": [1, 2, 3], "max_ticks": 20},
        {"design": "competitive", "condition": "injection_strong", "max_ticks": 20},
    ],
)
def test_conformance(params):
    check_parallel_env(lambda: MarketplaceEnv(**params), num_cycles=60, max_steps=3000)


def test_registered_and_made_by_pettingzoo():
    env = pettingzoo.make("parallel", "mercato/Marketplace-v0", n_customers=3, market_seed=1)
    assert env.possible_agents[:3] == ["customer_0", "customer_1", "customer_2"]
    assert env.possible_agents[3:] == [f"business_{j}" for j in range(9)]


def test_scripted_episodes_are_identical_across_instances():
    params = {"n_customers": 10, "customer_latency": {"low": 1, "high": 3}, "max_ticks": 60}
    a, b = MarketplaceEnv(**params), MarketplaceEnv(**params)
    for seed in (0, 1):
        metrics_a, returns_a = play(a, seed=seed)
        metrics_b, returns_b = play(b, seed=seed)
        assert first_difference(metrics_a, metrics_b) is None
        assert returns_a == returns_b
        assert a.log == b.log
    metrics_c, _ = play(a, seed=2)
    assert metrics_c["welfare"] != metrics_a["welfare"]  # another seed, another market


@pytest.mark.parametrize("domain", ["restaurants", "contractors"])
@pytest.mark.parametrize("n", [10, 33])
def test_careful_customer_with_perfect_search_reaches_the_optimum(domain, n):
    env = MarketplaceEnv(n_customers=n, domain=domain, market_seed=5, search_algorithm="perfect")
    metrics, _ = play(env)
    optimum = optimal_welfare(build_market("progenitor", n, domain, 5))
    assert metrics["optimal_welfare"] == pytest.approx(optimum)
    assert metrics["welfare"] == pytest.approx(optimum, abs=1e-6)
    assert metrics["welfare_ratio"] == pytest.approx(1.0)
    assert metrics["satisfied_rate"] == 1.0 and metrics["purchases"] == n


def test_customer_returns_add_up_to_welfare_and_business_returns_to_revenue():
    env = MarketplaceEnv(n_customers=12, market_seed=3)
    metrics, returns = play(env, customer="marketplace/price-only")
    customers = sum(r for a, r in returns.items() if a.startswith("customer"))
    businesses = sum(r for a, r in returns.items() if a.startswith("business"))
    assert customers == pytest.approx(metrics["welfare"])
    assert businesses == pytest.approx(metrics["revenue"])
    assert metrics["satisfied_rate"] < 1.0  # ignoring amenities buys from the near-miss sometimes


@pytest.mark.parametrize("latencies", [[1, 2, 3], [3, 1, 2], [2, 3, 1]])
def test_identical_sellers_impatient_pays_the_fastest_careful_the_first_listed(latencies):
    fastest = int(np.argmin(latencies))
    for seed in range(5):
        env = MarketplaceEnv(
            design="identical", business_latency=latencies, search_algorithm="simple"
        )
        impatient, _ = play(env, seed=seed, customer="marketplace/impatient")
        paid = env.state_dict()["ledgers"][0].payments
        assert [p.business for p in paid] == [fastest]
        assert impatient["first_proposal_rate"] == 1.0
        careful, _ = play(env, seed=seed)
        paid = env.state_dict()["ledgers"][0].payments
        # equal totals: the careful rule breaks the tie by search position (hidden ratings put
        # business_0 first), whatever the latencies
        assert [p.business for p in paid] == [0]
        assert careful["mean_paid_rank"] == float(np.argsort(np.argsort(latencies))[0])


def make_env(**params):
    env = MarketplaceEnv(**{"n_customers": 2, "market_seed": 0, **params})
    observations, infos = env.reset(seed=0)
    return env, observations, infos, ActionBuilder(env.params.max_bandwidth, 5, 100)


def test_rejected_actions_are_reported_back_and_recorded():
    env, _, _, build = make_env()
    observations, _, _, _, infos = env.step(
        {"customer_0": build.pay(42, 1.0), "customer_1": build.propose(0, [(0, 1, 1.0)])}
    )
    assert observations["customer_0"]["status"] == REASON_CODES["unknown_proposal"]
    assert infos["customer_0"]["last_action"]["status"] == "unknown_proposal"
    assert observations["customer_1"]["status"] == REASON_CODES["not_allowed_for_role"]
    assert sorted(entry[3] for entry in env.log) == ["not_allowed_for_role", "unknown_proposal"]
    # a business that is asleep is busy: its actions are rejected, not dropped
    observations, _, _, _, infos = env.step({"business_0": build.message([0], "hello")})
    assert infos["business_0"]["last_action"]["status"] == "busy"
    assert env.world.ledger.rejections["busy"] == 1


def test_empty_messages_and_bad_searches_are_rejected():
    env, _, _, build = make_env()
    _, _, _, _, infos = env.step(
        {
            "customer_0": build.message([0], "   "),
            "customer_1": build.search("x", "perfect", page=99),
        }
    )
    assert infos["customer_0"]["last_action"]["status"] == "empty_message"
    assert infos["customer_1"]["last_action"]["status"] == "ok"  # an empty page is not an error


def test_out_of_space_actions_raise_naming_the_agent():
    env, _, _, build = make_env()
    action = build.search("tacos")
    action["bandwidth"] = np.array([500])
    with pytest.raises(ValueError, match="customer_0: bandwidth"):
        env.step({"customer_0": action})
    with pytest.raises(ValueError, match="customer_1: kind"):
        env.step({"customer_1": {"kind": 9}})


def test_latency_delays_answers_and_busy_agents_may_only_wait():
    env, _, _, build = make_env(business_latency=4)
    customer = env.base_market.customers[0]
    seller = next(b for b in env.base_market.businesses if b.progenitor == 0)
    name = f"business_{seller.index}"
    observations, *_ = env.step({"customer_0": build.message([seller.index], "hi", customer.items)})
    for tick in (1, 2, 3):
        assert env.world.tick == tick and name not in env.deciding_agents()
        assert observations[name]["ready"] == 0
        assert list(observations[name]["kind_mask"]) == [1, 0, 0, 0, 0, 0]
        observations, *_ = env.step({})
    assert name in env.deciding_agents()  # the message arrived at tick 0, latency 4
    assert observations[name]["ready"] == 1 and observations[name]["inquiries"][0] == 0
    assert list(observations[name]["inquiry_items"][0][: len(customer.items)]) == list(
        customer.items
    )


def test_bad_parameters_fail_with_one_line_naming_the_field():
    with pytest.raises(ValueError, match="n_customers must be an int in \\[1, 10000\\]"):
        MarketplaceEnv(n_customers=0)
    with pytest.raises(ValueError, match="business_latency as a list needs one latency per agent"):
        MarketplaceEnv(n_customers=2, business_latency=[1, 2])
    with pytest.raises(ValueError, match="search_algorithm must be one of"):
        MarketplaceEnv(search_algorithm="google")
    with pytest.raises(ValueError, match="unknown parameter 'colour'"):
        MarketplaceEnv(colour="red")


def test_mesa_datacollector_records_one_row_per_tick():
    env = MarketplaceEnv(n_customers=5, market_seed=0)
    metrics, _ = play(env)
    frame = env.world.datacollector.get_model_vars_dataframe()
    assert len(frame) == metrics["ticks"]
    assert frame["payments"].iloc[-1] == metrics["purchases"]
    assert list(frame["tick"]) == list(range(metrics["ticks"]))


def test_multi_day_reviews_travel_over_social_ties_into_search():
    env = MarketplaceEnv(n_customers=12, market_seed=2, days=3, social_degree=4)
    metrics, _ = play(env, customer="marketplace/price-only")
    assert metrics["days"] == 3 and all(f"welfare_day_{d}" in metrics for d in range(3))
    assert metrics["reviews"] == len(env.world.reviews) > 0
    world = env.world
    bad = next(r for r in world.reviews if r.stars == 1)
    for other in world.circle(bad.customer):
        assert world.perceived_ratings(other)[bad.business] < 1.0
    graph = world.graph
    assert graph.number_of_nodes() == 12 + 36
    assert all(d["kind"] == "social" for _, _, d in graph.edges(data=True))


@pytest.mark.parametrize("design", ["progenitor", "malicious", "competitive", "identical"])
def test_observations_stay_in_the_space_across_drawn_markets(design):
    env = MarketplaceEnv(design=design, n_customers=4)
    space = env.observation_space("customer_0")
    for seed in range(8):
        metrics, _ = play(env, seed=seed)
        assert metrics["purchases"] >= 1
        observations, _ = env.reset(seed=seed)
        assert all(space.contains(o) for o in observations.values())


def test_visibility_limits_what_a_customer_can_find():
    env, _, _, build = make_env(n_customers=10, visibility=4, search_algorithm="simple")
    seen = set(env.world.visible[0].tolist())
    own = {b.index for b in env.base_market.businesses if b.progenitor == 0}
    assert own <= seen and len(seen) <= 4 + len(own)
    assert all(env.world.graph.has_edge("customer_0", f"business_{b}") for b in seen)
    observations, *_ = env.step({"customer_0": build.search("anything", "simple", bandwidth=10)})
    found = {int(b) for b in observations["customer_0"]["results"] if b >= 0}
    assert found and found <= seen


def test_text_views_stay_bounded_however_long_the_chat():
    env, _, _, build = make_env(n_customers=1)
    shop = env.world.shops[0]
    for tick in range(40):
        env.world.tick = tick
        env._message(env.world.shoppers[0], build.message([0], f"message number {tick}"))
    env._refresh([shop])
    text = env._observations["business_0"]["text"]
    assert "message number 39" in text and "message number 30" not in text
    assert "Messages (last 5 of 40)" in text


def test_a_step_with_one_bad_action_changes_nothing():
    env, _, _, build = make_env()
    bad = build.pay(0, 1.0)
    bad["total"] = np.array([-5.0])
    with pytest.raises(ValueError, match="customer_1: total"):
        env.step({"customer_0": build.search("tacos"), "customer_1": bad})
    assert env.world.tick == 0 and env.log == [] and env.world.counters.searches == 0
    observations, *_ = env.step({"customer_0": build.search("tacos")})
    assert env.world.tick == 1 and observations["customer_0"]["results"][0] >= 0
