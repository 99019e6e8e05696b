"""`mercato/Negotiation-v0`: conformance, rules, rewards and metrics by hand, bad input."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo import AECEnv

from agents.base import RandomPolicy
from envs.core.checks import check_aec_env
from envs.core.docstring import missing_doc_sections
from envs.core.registry import list_envs
from envs.core.seeding import make_rng
from envs.games.negotiation import env as make_env
from envs.games.negotiation import raw_env
from envs.games.negotiation_rules import (
    ACCEPT,
    BUYER,
    OFFER,
    OUTSIDE,
    REJECT,
    SELLER,
    efficiency,
    fairness,
    price_cap,
    proposer_of,
    spe_price,
)
from tests.envs.games.negotiation_episodes import (
    ACCEPT_ACTION,
    OUTSIDE_ACTION,
    REJECT_ACTION,
    offer,
    play,
    play_actions,
)

ENV_ID = "mercato/Negotiation-v0"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # api_test's style warnings


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"horizon": 10},
        {"horizon": 30},
        {"horizon": 30, "announce_horizon": True, "money": 1e6},
        {"complete_information": False, "messages": True, "message_length": 20},
        {"horizon": 10, "complete_information": False, "messages": True},
        {"seller_value_factor": 1.5, "buyer_value_factor": 0.8, "horizon": 10},
        {"seller_value_factor": 1.2, "buyer_value_factor": 1.2, "money": 100.0},
        {"horizon": 5, "max_cycles": 2},
        {"seller_value_factor": 8.0, "horizon": 3},
    ],
    ids=lambda params: ",".join(f"{k}={v}" for k, v in params.items()) or "defaults",
)
def test_passes_the_conformance_checks(params: dict[str, Any]) -> None:
    check_aec_env(lambda: make_env(**params))


def test_registered_with_pettingzoo_and_listed() -> None:
    game = pettingzoo.make("aec", ENV_ID, horizon=10, buyer_value_factor=1.2)
    game.reset(seed=0)
    assert isinstance(game, AECEnv)
    assert game.agents == [SELLER, BUYER]
    assert isinstance(game.unwrapped, raw_env)
    assert game.unwrapped.horizon == 10
    assert game.unwrapped.values == {SELLER: 10_000.0, BUYER: 12_000.0}
    (info,) = [info for info in list_envs() if info.id == ENV_ID]
    assert (info.kind, info.family) == ("aec", "games")


def test_docstring_follows_the_template() -> None:
    assert missing_doc_sections(raw_env) == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"money": 0}, "money"),
        ({"money": -5.0}, "money"),
        ({"money": float("inf")}, "money"),
        ({"money": float("nan")}, "money"),
        ({"money": "10"}, "money"),
        ({"seller_value_factor": 0.0}, "seller_value_factor"),
        ({"seller_value_factor": float("nan")}, "seller_value_factor"),
        ({"buyer_value_factor": -1.0}, "buyer_value_factor"),
        ({"buyer_value_factor": True}, "buyer_value_factor"),
        ({"buyer_value_factor": 1e27, "money": 1e4}, "buyer_value_factor"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": 2.5}, "horizon"),
        ({"announce_horizon": "yes"}, "announce_horizon"),
        ({"complete_information": 1}, "complete_information"),
        ({"messages": None}, "messages"),
        ({"message_length": 0}, "message_length"),
        ({"max_cycles": 0}, "max_cycles"),
        ({"render_mode": "rgb_array"}, "render_mode"),
    ],
)
def test_invalid_parameters_fail_at_construction(params: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        raw_env(**params)


def test_parameters_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        raw_env(100.0)  # type: ignore[misc]


# Rewards and metrics by hand (money 10,000) -----------------------------------------------------


def test_trade_in_round_one_at_the_ultimatum_price() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.2)  # T = 1: spe price V_B
    outcome = play_actions(game, [offer(11_000), ACCEPT_ACTION])
    assert outcome.terminated and not outcome.truncated
    assert outcome.returns == pytest.approx({SELLER: 3_000.0, BUYER: 1_000.0})
    assert outcome.metrics == pytest.approx(
        {
            "trade": 1.0,
            "outside_option": 0.0,
            "round": 1.0,
            "price": 11_000.0,
            "self_gain_seller": 0.3,
            "self_gain_buyer": 0.1,
            "efficiency": 1.0,
            "fairness": 1 - 4 * 0.1**2,  # p_f = 10,000
            "spe_price": 12_000.0,
            "regret_price": 0.1,
        }
    )


def test_trade_in_round_three_pays_without_discounting() -> None:
    game = raw_env(seller_value_factor=1.0, buyer_value_factor=1.5, horizon=10)
    actions = [offer(14_000), REJECT_ACTION, offer(10_500), REJECT_ACTION, offer(12_000)]
    outcome = play_actions(game, [*actions, ACCEPT_ACTION])
    assert [agent for agent, _ in outcome.actions] == [SELLER, BUYER, BUYER, SELLER, SELLER, BUYER]
    assert outcome.returns == pytest.approx({SELLER: 2_000.0, BUYER: 3_000.0})
    assert outcome.metrics == pytest.approx(
        {
            "trade": 1.0,
            "outside_option": 0.0,
            "round": 3.0,
            "price": 12_000.0,
            "self_gain_seller": 0.2,
            "self_gain_buyer": 0.3,
            "efficiency": 1.0,
            "fairness": 1 - 4 * 0.05**2,  # p_f = 12,500
            "spe_price": 10_000.0,  # T = 10: the buyer proposes last and offers V_A
            "regret_price": 0.2,
        }
    )


def test_trade_outside_the_values_is_inefficient_and_can_lose_money() -> None:
    game = raw_env(seller_value_factor=1.0, buyer_value_factor=1.2)
    outcome = play_actions(game, [offer(15_000), ACCEPT_ACTION])
    assert outcome.returns == pytest.approx({SELLER: 5_000.0, BUYER: -3_000.0})
    assert outcome.metrics["efficiency"] == 0.0
    assert outcome.metrics["self_gain_buyer"] == pytest.approx(-0.3)
    assert outcome.metrics["fairness"] == pytest.approx(1 - 4 * 0.4**2)  # negative, as in §4


def test_no_trade_after_the_last_rejection_has_the_papers_metrics() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.2, horizon=2)
    outcome = play_actions(game, [offer(12_000), REJECT_ACTION, offer(8_000), REJECT_ACTION])
    assert outcome.terminated and not outcome.truncated
    assert outcome.returns == {SELLER: 0.0, BUYER: 0.0}
    assert outcome.metrics == {
        "trade": 0.0,
        "outside_option": 0.0,
        "round": 2.0,
        "price": None,
        "self_gain_seller": 0.0,
        "self_gain_buyer": 0.0,
        "efficiency": 0.0,  # gains from trade were left unrealised
        "fairness": 1.0,
        "spe_price": 8_000.0,
        "regret_price": None,
    }


@pytest.mark.parametrize(("seller", "buyer", "efficient"), [(1.2, 1.0, 1.0), (1.0, 1.2, 0.0)])
def test_outside_option_ends_the_game_without_trade(
    seller: float, buyer: float, efficient: float
) -> None:
    game = raw_env(seller_value_factor=seller, buyer_value_factor=buyer, horizon=10)
    outcome = play_actions(game, [offer(13_000), OUTSIDE_ACTION])
    assert outcome.terminated and not outcome.truncated
    assert len(outcome.actions) == 2
    assert outcome.returns == {SELLER: 0.0, BUYER: 0.0}
    metrics = outcome.metrics
    assert (metrics["trade"], metrics["outside_option"], metrics["round"]) == (0.0, 1.0, 1.0)
    assert (metrics["price"], metrics["regret_price"]) == (None, None)
    assert (metrics["efficiency"], metrics["fairness"]) == (efficient, 1.0)


def test_seller_may_take_the_outside_option_in_an_even_round() -> None:
    game = raw_env(horizon=10, max_cycles=2)
    outcome = play_actions(game, [offer(12_000), REJECT_ACTION, offer(9_000), OUTSIDE_ACTION])
    assert outcome.terminated and not outcome.truncated  # a choice, not the max_cycles cut
    assert [agent for agent, _ in outcome.actions][-1] == SELLER
    assert (outcome.metrics["outside_option"], outcome.metrics["round"]) == (1.0, 2.0)


def test_spe_price_needs_complete_information_an_announced_horizon_and_a_surplus() -> None:
    values = {"seller_value_factor": 0.8, "buyer_value_factor": 1.5}
    assert raw_env(**values).spe_price == 15_000.0
    assert raw_env(**values, horizon=10).spe_price == 8_000.0
    assert raw_env(**values, horizon=30).spe_price is None
    assert raw_env(**values, horizon=30, announce_horizon=True).spe_price == 8_000.0
    assert raw_env(**values, complete_information=False).spe_price is None
    assert raw_env(seller_value_factor=1.2, buyer_value_factor=1.2).spe_price is None


def test_undefined_metrics_survive_pettingzoos_equality() -> None:
    """seed_test compares infos with ==, so undefined metrics must not be NaN."""
    game = raw_env(horizon=30)
    first, second = (play_actions(game, [offer(1.0), OUTSIDE_ACTION]) for _ in range(2))
    assert first.metrics["spe_price"] is None and first.metrics["price"] is None
    assert data_equivalence(first.metrics, second.metrics)


def test_max_cycles_truncates_with_no_trade() -> None:
    game = raw_env(horizon=10, max_cycles=2)
    outcome = play_actions(game, [offer(9_000), REJECT_ACTION, offer(11_000), REJECT_ACTION])
    assert outcome.truncated and not outcome.terminated
    assert (outcome.metrics["trade"], outcome.metrics["round"]) == (0.0, 2.0)
    assert len(outcome.actions) == 4


def test_rewards_arrive_only_at_the_end() -> None:
    game = raw_env(horizon=10)
    game.reset(seed=0)
    game.step(offer(5_000))
    game.step(REJECT_ACTION)
    assert game.rewards == {SELLER: 0.0, BUYER: 0.0}
    assert game._cumulative_rewards == {SELLER: 0.0, BUYER: 0.0}


def test_theory_functions() -> None:
    assert [proposer_of(t) for t in (1, 2, 3, 10)] == [SELLER, BUYER, SELLER, BUYER]
    assert spe_price(8.0, 15.0, 1) == 15.0 and spe_price(8.0, 15.0, 10) == 8.0
    assert spe_price(10.0, 10.0, 1) is None and spe_price(12.0, 10.0, 3) is None
    assert efficiency(10.0, 8.0, None) == 1.0 and efficiency(10.0, 10.0, None) == 1.0
    assert efficiency(8.0, 10.0, None) == 0.0
    assert efficiency(8.0, 10.0, 8.0) == efficiency(8.0, 10.0, 10.0) == 1.0
    assert efficiency(8.0, 10.0, 10.1) == efficiency(10.0, 8.0, 9.0) == 0.0
    assert efficiency(8.0, 10.0, 10.0 + 1e-14) == 1.0  # rounding slack
    assert efficiency(8.0, 10.0, 10.001) == 0.0
    assert fairness(8.0, 12.0, None, 10.0) == 1.0
    assert fairness(8.0, 12.0, 12.0, 10.0) == pytest.approx(0.84)
    assert price_cap(100.0, 80.0, 150.0) == 1_000.0
    assert price_cap(100.0, 800.0, 80.0) == 1_600.0


# Observations and masks ---------------------------------------------------------------------


def test_first_observations_and_masks() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.5, horizon=10)
    game.reset(seed=0)
    seller, buyer = game.observe(SELLER), game.observe(BUYER)
    assert "action_mask" not in seller
    assert seller["round"] == 1 and seller["phase"] == 0
    assert (seller["role"], buyer["role"]) == (0, 1)
    assert seller["decision_mask"].tolist() == [1, 0, 0, 0]
    assert buyer["decision_mask"].tolist() == [0, 0, 0, 0]
    assert seller["own_value"][0] == 8_000 and seller["other_value"][0] == 15_000
    assert buyer["own_value"][0] == 15_000 and buyer["other_value"][0] == 8_000
    assert seller["other_value_known"] == 1 and seller["horizon"] == 10
    assert seller["money"][0] == 10_000 and seller["offer"][0] == 0.0
    assert game.infos[SELLER]["action_mask"]["decision"].tolist() == [1, 0, 0, 0]
    assert game.infos[SELLER]["action_mask"]["price"] is None
    assert game.infos[BUYER]["action_mask"]["decision"].tolist() == [0, 1, 1, 1]
    for agent, observation in ((SELLER, seller), (BUYER, buyer)):
        space = game.observation_space(agent)
        assert space is game.observation_space(agent)
        assert space.contains(observation)
        for key in ("offer", "own_offer", "money", "own_value", "other_value", "decision_mask"):
            assert observation[key].dtype == space[key].dtype
        assert all(type(observation[key]) is int for key in ("role", "round", "phase", "horizon"))


def test_price_space_is_capped_at_ten_times_the_money_or_twice_a_value() -> None:
    assert raw_env().action_space(SELLER)["price"].high[0] == 100_000
    assert raw_env(buyer_value_factor=5.0).action_space(BUYER)["price"].high[0] == 100_000
    assert raw_env(seller_value_factor=8.0).action_space(BUYER)["price"].high[0] == 160_000


def test_responder_sees_the_offer_and_both_track_their_own_offers() -> None:
    game = raw_env(messages=True, horizon=10)
    game.reset(seed=0)
    game.step(offer(12_500, "my best price"))
    observation = game.observe(BUYER)
    assert game.agent_selection == BUYER
    assert observation["phase"] == 1
    assert observation["offer"][0] == 12_500 and observation["own_offer"][0] == 0.0
    assert observation["decision_mask"].tolist() == [0, 1, 1, 1]
    assert observation["last_message"] == "my best price"
    assert game.infos[BUYER]["action_mask"]["decision"].tolist() == [0, 1, 1, 1]
    game.step(REJECT_ACTION)
    game.step(offer(9_000))
    seller = game.observe(SELLER)
    assert (seller["round"], seller["offer"][0], seller["own_offer"][0]) == (2, 9_000, 12_500)
    assert game.observe(BUYER)["own_offer"][0] == 9_000


def test_both_players_see_every_rejected_price_and_its_message() -> None:
    game = raw_env(messages=True, horizon=4)
    game.reset(seed=0)
    for price, message in ((12_500, "my best price"), (9_000, ""), (11_000, "meet me")):
        game.step(offer(price, message))
        game.step(REJECT_ACTION)
    for agent in (SELLER, BUYER):
        observation = game.observe(agent)
        assert observation["round"] == 4
        assert observation["offers"].tolist() == [12_500, 9_000, 11_000, 0.0]
        assert observation["offer_messages"] == ("my best price", "", "meet me", "")
        assert game.observation_space(agent).contains(observation)


def test_incomplete_information_hides_the_other_value() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.2, complete_information=False)
    game.reset(seed=0)
    for agent, own in ((SELLER, 8_000), (BUYER, 12_000)):
        observation = game.observe(agent)
        assert observation["own_value"][0] == own
        assert observation["other_value"][0] == 0.0
        assert observation["other_value_known"] == 0


@pytest.mark.parametrize(
    ("horizon", "announce", "seen"),
    [(1, None, 1), (10, None, 10), (20, None, 20), (30, None, 0), (10, False, 0), (30, True, 30)],
)
def test_horizon_is_announced_by_glees_rule_unless_told(
    horizon: int, announce: bool | None, seen: int
) -> None:
    game = raw_env(horizon=horizon, announce_horizon=announce)
    game.reset(seed=0)
    assert game.observe(SELLER)["horizon"] == seen


def test_observations_stay_as_returned() -> None:
    game = raw_env()
    game.reset(seed=0)
    first = game.observe(BUYER)
    game.step(offer(3_000))
    second = game.observe(BUYER)
    assert second is not first and second["offer"][0] == 3_000
    assert first["offer"][0] == 0.0 and first["phase"] == 0
    assert not first["offer"].flags.writeable and not first["own_offer"].flags.writeable


def test_masked_decisions_are_read_sensibly() -> None:
    """A proposer's accept/reject/outside is an offer of its price; a responder's offer is a
    rejection."""
    game = raw_env(horizon=10)
    game.reset(seed=0)
    game.step({**OUTSIDE_ACTION, "price": np.array([9_500], dtype=np.float64)})
    assert game.agent_selection == BUYER and game.observe(BUYER)["offer"][0] == 9_500
    game.step(offer(20_000))  # the buyer "offers" while responding: a rejection
    assert game.agent_selection == BUYER
    assert game.observe(BUYER)["round"] == 2 and game.observe(BUYER)["phase"] == 0
    assert game.observe(BUYER)["offer"][0] == 9_500  # the rejection's price was ignored


def test_state_is_cleared_by_reset() -> None:
    game = raw_env(messages=True, horizon=10)
    game.reset(seed=0)
    game.step(offer(12_000, "hello"))
    game.step(REJECT_ACTION)
    game.reset(seed=1)
    for agent in (SELLER, BUYER):
        observation = game.observe(agent)
        assert observation["offer"][0] == observation["own_offer"][0] == 0.0
        assert (observation["round"], observation["last_message"]) == (1, "")
        assert observation["offers"].tolist() == [0.0] * 10
        assert observation["offer_messages"] == ("",) * 10


# Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        None,
        3,
        {"decision": 4, "price": np.array([5_000], np.float64), "message": ""},
        {"decision": -1, "price": np.array([5_000], np.float64), "message": ""},
        {"decision": 0.0, "price": np.array([5_000], np.float64), "message": ""},
        {"decision": 0, "price": np.array([-1.0], np.float64), "message": ""},
        {"decision": 0, "price": np.array([1e9], np.float64), "message": ""},
        {"decision": 0, "price": np.array([np.nan], np.float64), "message": ""},
        {"decision": 0, "price": np.array([1.0, 2.0], np.float64), "message": ""},
        {"decision": 0, "message": ""},
    ],
)
@pytest.mark.parametrize("make", [raw_env, make_env], ids=["raw", "wrapped"])
def test_out_of_space_actions_name_agent_and_space(action: Any, make: Any) -> None:
    game = make()
    game.reset(seed=0)
    with pytest.raises(ValueError, match=r"^seller_0: action .* is not in Dict\("):
        game.step(action)


def test_responders_price_must_be_in_the_space_too() -> None:
    game = raw_env()
    game.reset(seed=0)
    game.step(offer(5_000))
    bad = {"decision": ACCEPT, "price": np.array([-5.0], np.float64), "message": ""}
    with pytest.raises(ValueError, match=r"^buyer_0: action .* is not in Dict\("):
        game.step(bad)


def test_wrapped_env_checks_the_whole_space() -> None:
    game = make_env(message_length=5)
    game.reset(seed=0)
    with pytest.raises(ValueError, match=r"^seller_0: action .* is not in Dict\("):
        game.step(offer(5_000, "far too long"))


def test_prices_as_lists_are_accepted_by_the_raw_env() -> None:
    game = raw_env()
    game.reset(seed=0)
    game.step({"decision": OFFER, "price": [7_000.0], "message": ""})
    assert game.observe(BUYER)["offer"][0] == 7_000


def test_finished_agents_step_with_none_only() -> None:
    game = raw_env()
    game.reset(seed=0)
    game.step(offer(5_000))
    game.step(ACCEPT_ACTION)
    with pytest.raises(ValueError, match=r"seller_0: the game is over"):
        game.step(offer(5_000))


def test_messages_are_normalised_truncated_or_ignored() -> None:
    game = raw_env(messages=True, message_length=8, horizon=10)
    game.reset(seed=0)
    game.step(offer(5_000, "cafe\u0301 and more"))
    assert game.observe(BUYER)["last_message"] == "café and"
    game.step(REJECT_ACTION)
    game.step(offer(5_000, 12345))
    assert game.observe(SELLER)["last_message"] == "12345"
    silent = raw_env(messages=False)
    silent.reset(seed=0)
    silent.step(offer(5_000, "hello"))
    assert silent.observe(BUYER)["last_message"] == ""


@pytest.mark.parametrize("seed", range(4))
def test_random_players_with_random_messages_stay_in_the_spaces(seed: int) -> None:
    game = make_env(messages=True, message_length=40, horizon=6, complete_information=False)
    random = RandomPolicy(game.action_space, seed=seed)
    outcome = play(game, {SELLER: random, BUYER: random}, seed=seed)
    assert outcome.metrics["trade"] in (0.0, 1.0)
    for agent, action in outcome.actions:
        assert game.action_space(agent).contains(action)
    decisions = outcome.decisions()
    assert decisions[0] == OFFER and set(decisions[1::2]) <= {ACCEPT, REJECT, OUTSIDE}


# Rendering, pickling, seeding -----------------------------------------------------------------


def first_line(text: str | None) -> str | None:
    """The summary line an ansi render starts with (the acting player's view follows)."""
    return None if text is None else text.splitlines()[0]


def test_ansi_render_describes_the_state() -> None:
    game = raw_env(render_mode="ansi", horizon=10)
    game.reset(seed=0)
    assert first_line(game.render()) == "round 1: Seller proposes"
    game.step(offer(12_000.5))
    assert first_line(game.render()) == "round 1: Buyer considers the price $12,000.50"
    game.step(ACCEPT_ACTION)
    assert first_line(game.render()) == "trade in round 1 at $12,000.50"
    game.reset(seed=0)
    game.step(offer(12_000))
    game.step(OUTSIDE_ACTION)
    assert first_line(game.render()) == "no trade: Buyer took the outside option in round 1"
    game.reset(seed=0)
    game.step(offer(12_000))
    game.step(REJECT_ACTION)
    assert first_line(game.render()) == "round 2: Buyer proposes"
    assert raw_env().render() is None


def test_ansi_render_of_no_trade_after_the_last_round() -> None:
    game = raw_env(render_mode="ansi")
    game.reset(seed=0)
    game.step(offer(12_000))
    game.step(REJECT_ACTION)
    assert first_line(game.render()) == "no trade after round 1"


def test_pickles_with_its_parameters() -> None:
    game = pickle.loads(pickle.dumps(raw_env(money=100.0, horizon=7, buyer_value_factor=1.5)))
    assert (game.money, game.horizon, game.values[BUYER]) == (100.0, 7, 150.0)


def test_np_random_comes_lazily_from_the_reset_seed() -> None:
    game = raw_env()
    game.reset(seed=7)
    game.reset()
    assert game.np_random.random() == make_rng(7)[0].random()
