"""`mercato/Persuasion-v0`: conformance, rules, rewards and metrics by hand, seeding, bad input."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo import AECEnv

import envs
from agents.base import RandomPolicy
from envs.core.checks import check_aec_env
from envs.core.docstring import missing_doc_sections
from envs.core.seeding import make_rng
from envs.games.persuasion import env as make_env
from envs.games.persuasion import raw_env
from envs.games.persuasion_rules import BUYER, NO, SELLER, YES
from tests.envs.games.persuasion_episodes import decide, play, play_rounds, recommend

ENV_ID = "mercato/Persuasion-v0"
M = 10_000.0

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # api_test's style warnings


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"message_type": "text"},
        {"buyer_memory": "myopic"},
        {"message_type": "text", "buyer_memory": "myopic", "complete_information": False},
        {"complete_information": False, "p_high": 0.8, "value_high": 3.0},
        {"rounds": 1},
        {"rounds": 1, "message_type": "text", "buyer_memory": "myopic", "message_length": 20},
        {"rounds": 5, "max_cycles": 2},
        {"p_high": 0.0, "value_low": 0.5, "money": 100.0},
        {"p_high": 1.0, "rounds": 3},
    ],
    ids=lambda params: ",".join(f"{k}={v}" for k, v in params.items()) or "defaults",
)
def test_passes_the_conformance_checks(params: dict[str, Any]) -> None:
    check_aec_env(lambda: make_env(**params))


def test_registered_with_pettingzoo_and_listed() -> None:
    game = pettingzoo.make("aec", ENV_ID, p_high=0.8, value_high=2.0, message_type="text")
    game.reset(seed=0)
    assert isinstance(game, AECEnv)
    assert game.agents == [SELLER, BUYER]
    assert isinstance(game.unwrapped, raw_env)
    assert (game.unwrapped.p_high, game.unwrapped.value_high) == (0.8, 2.0)
    assert game.unwrapped.message_type == "text"
    (info,) = [info for info in envs.list_envs() if info.id == ENV_ID]
    assert (info.kind, info.family) == ("aec", "games")


def test_docstring_follows_the_template() -> None:
    assert missing_doc_sections(raw_env) == []


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"money": 0}, "money"),
        ({"money": float("nan")}, "money"),
        ({"p_high": -0.1}, "p_high"),
        ({"p_high": 1.5}, "p_high"),
        ({"p_high": "0.5"}, "p_high"),
        ({"value_high": 1.0}, "value_high must be a finite number > 1.*buying never pays"),
        ({"value_high": 0.5}, "value_high"),
        ({"value_high": float("inf")}, "value_high"),
        ({"value_low": 1.0}, r"value_low must be a number in \[0, 1\)"),
        ({"value_low": -0.1}, "value_low"),
        ({"rounds": 0}, "rounds"),
        ({"rounds": 2.0}, "rounds"),
        ({"message_type": "free"}, "message_type"),
        ({"buyer_memory": "short"}, "buyer_memory"),
        ({"complete_information": 1}, "complete_information"),
        ({"message_length": 0}, "message_length"),
        ({"max_cycles": 0}, "max_cycles"),
        ({"render_mode": "rgb_array"}, "render_mode"),
    ],
)
def test_invalid_parameters_fail_at_construction(params: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        raw_env(**params)


def test_parameters_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        raw_env(100.0)  # type: ignore[misc]


# Rewards and metrics by hand (p = 0.5, v = 1.25, c = 0, money 10,000) --------------------------

# Seed 0, six rounds: Nature draws low, high, high, high, low, low.
SEED0_QUALITIES = [0, 1, 1, 1, 0, 0]


def test_nature_draws_from_the_reset_seed() -> None:
    outcome = play_rounds(raw_env(rounds=6), [(NO, NO)] * 6, seed=0)
    assert outcome.qualities == SEED0_QUALITIES
    expected = (make_rng(0)[0].random(6) < 0.5).astype(int).tolist()
    assert outcome.qualities == expected


def test_mixed_episode_by_hand() -> None:
    rounds = [(YES, YES), (YES, YES), (NO, NO), (YES, YES), (NO, NO), (YES, NO)]
    outcome = play_rounds(raw_env(rounds=6), rounds, seed=0)
    # n = 3 high rounds, k = 2 high sold, 1 low sold, r = 2 low not sold, T = 6.
    assert outcome.terminated and not outcome.truncated
    assert outcome.returns == pytest.approx({SELLER: 3 * M, BUYER: 2 * 0.25 * M - M})
    assert outcome.metrics == pytest.approx(
        {
            "sales": 3.0,
            "high_rounds": 3.0,
            "sale_rate": 0.5,
            "self_gain_seller": 0.5,
            "self_gain_buyer": (2 * 0.25 + 1 * (0.0 - 1.0)) / 6,  # GLEE's code: -0.075
            "efficiency": 2 / 3,
            "fairness": 2 / 3,
            "commitment_sale_rate": 0.625,
            "regret_sale_rate": 0.125,
        }
    )


def test_value_low_prices_low_quality_purchases() -> None:
    game = raw_env(rounds=6, value_low=0.5, value_high=2.0)
    outcome = play_rounds(game, [(YES, YES)] * 6, seed=0)
    assert outcome.returns == pytest.approx({SELLER: 6 * M, BUYER: 3 * M - 3 * 0.5 * M})
    assert outcome.metrics["self_gain_buyer"] == pytest.approx((3 * 1.0 - 3 * 0.5) / 6)
    assert outcome.metrics["fairness"] == 0.0 and outcome.metrics["efficiency"] == 1.0
    assert outcome.metrics["commitment_sale_rate"] == 1.0  # min(1, 0.5 * 1.5 / 0.5)


def test_no_high_quality_round_leaves_efficiency_undefined() -> None:
    outcome = play_rounds(raw_env(rounds=4, p_high=0.0), [(YES, YES), (NO, NO)] * 2)
    assert outcome.qualities == [0, 0, 0, 0]
    assert outcome.metrics == {
        "sales": 2.0,
        "high_rounds": 0.0,
        "sale_rate": 0.5,
        "self_gain_seller": 0.5,
        "self_gain_buyer": -0.5,
        "efficiency": None,
        "fairness": 0.5,
        "commitment_sale_rate": 0.0,
        "regret_sale_rate": 0.5,
    }


def test_only_high_quality_rounds_leave_fairness_undefined() -> None:
    outcome = play_rounds(raw_env(rounds=4, p_high=1.0), [(YES, YES), (YES, NO)] * 2)
    assert outcome.qualities == [1, 1, 1, 1]
    assert outcome.metrics == pytest.approx(
        {
            "sales": 2.0,
            "high_rounds": 4.0,
            "sale_rate": 0.5,
            "self_gain_seller": 0.5,
            "self_gain_buyer": 0.125,
            "efficiency": 0.5,
            "fairness": None,
            "commitment_sale_rate": 1.0,
            "regret_sale_rate": 0.5,
        }
    )


def test_undefined_metrics_survive_pettingzoos_equality() -> None:
    """seed_test compares infos with ==, so undefined metrics must not be NaN."""
    game = raw_env(rounds=2, p_high=1.0)
    first, second = (play_rounds(game, [(YES, YES)] * 2) for _ in range(2))
    assert first.metrics["fairness"] is None
    assert data_equivalence(first.metrics, second.metrics)


def test_rewards_are_paid_after_each_round() -> None:
    game = raw_env(rounds=6)
    game.reset(seed=0)  # round 2 is high quality
    game.step(recommend(YES))
    game.step(decide(NO))
    assert game.rewards == {SELLER: 0.0, BUYER: 0.0}
    game.step(recommend(YES))
    assert game.rewards == {SELLER: 0.0, BUYER: 0.0}
    game.step(decide(YES))
    assert game.rewards == {SELLER: M, BUYER: 0.25 * M}
    assert game.last()[1] == M  # the seller acts next and collects its round-2 sale
    game.step(recommend(NO))
    assert game._cumulative_rewards == {SELLER: 0.0, BUYER: 0.25 * M}
    assert game.last()[1] == 0.25 * M


def test_max_cycles_truncates_with_metrics_of_the_rounds_played() -> None:
    game = raw_env(rounds=6, max_cycles=2)
    outcome = play_rounds(game, [(YES, YES), (YES, YES)], seed=0)
    assert outcome.truncated and not outcome.terminated
    assert len(outcome.actions) == 4
    assert outcome.metrics["sales"] == 2.0 and outcome.metrics["sale_rate"] == 1.0
    assert outcome.metrics["high_rounds"] == 1.0 and outcome.metrics["fairness"] == 0.0


# Seeded nature ----------------------------------------------------------------------------------


def qualities(game: raw_env, seed: int | None) -> list[int]:
    game.reset(seed=seed)
    return list(game._qualities)


def test_same_seed_same_qualities_different_seeds_differ() -> None:
    first = [qualities(raw_env(rounds=50), seed) for seed in range(5)]
    second = [qualities(raw_env(rounds=50), seed) for seed in range(5)]
    assert first == second
    assert len({tuple(draws) for draws in first}) == 5


def test_reset_without_a_seed_continues_the_stream() -> None:
    game = raw_env(rounds=50)
    first = qualities(game, 3)
    follow_up = qualities(game, None)
    assert follow_up != first
    assert qualities(raw_env(rounds=50), 3) == first
    replay = raw_env(rounds=50)
    qualities(replay, 3)
    assert qualities(replay, None) == follow_up


def test_quality_frequency_matches_p_high() -> None:
    draws = qualities(raw_env(rounds=20_000, p_high=0.8), 0)
    assert abs(np.mean(draws) - 0.8) < 3 * np.sqrt(0.8 * 0.2 / 20_000)


# Observations and masks ---------------------------------------------------------------------


def test_first_observations_and_masks() -> None:
    game = raw_env(p_high=0.8, value_high=2.0, rounds=6)
    game.reset(seed=0)
    seller, buyer = game.observe(SELLER), game.observe(BUYER)
    assert "action_mask" not in seller and "action_mask" not in buyer
    assert (seller["role"], buyer["role"]) == (0, 1)
    assert seller["round"] == buyer["round"] == 1 and seller["rounds"] == 6
    assert seller["recommend_mask"].tolist() == [1, 1]
    assert buyer["decision_mask"].tolist() == [0, 0]
    assert seller["value_high"][0] == np.float32(2.0) and seller["value_known"] == 1
    assert buyer["value_high"][0] == np.float32(2.0) and buyer["p_high"][0] == np.float32(0.8)
    assert seller["last_bought"] == -1 and seller["played"] == 0
    assert buyer["history_quality"].tolist() == [-1] * 6 and buyer["long_memory"] == 1
    seller_mask, buyer_mask = (game.infos[agent]["action_mask"] for agent in (SELLER, BUYER))
    assert seller_mask["recommend"].tolist() == [1, 1] and seller_mask["message"] is None
    assert buyer_mask["decision"].tolist() == [1, 1] and buyer_mask["message"] is None
    for agent, observation in ((SELLER, seller), (BUYER, buyer)):
        space = game.observation_space(agent)
        assert space is game.observation_space(agent)
        assert space.contains(observation)
        for key, value in observation.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == space[key].dtype, key
            elif key not in ("message", "buyer_message"):
                assert type(value) is int, key


def test_the_buyer_sees_the_recommendation_and_then_the_history() -> None:
    game = raw_env(rounds=6, message_type="text")
    game.reset(seed=0)
    game.step(recommend(YES, "A bargain!"))
    buyer = game.observe(BUYER)
    assert buyer["recommendation"] == 1 and buyer["message"] == "A bargain!"
    assert buyer["decision_mask"].tolist() == [1, 1]
    assert "quality_high" not in buyer
    game.step(decide(YES, "thanks"))
    buyer = game.observe(BUYER)
    assert buyer["history_recommended"].tolist() == [1] + [-1] * 5
    assert buyer["history_bought"].tolist() == [1] + [-1] * 5
    assert buyer["history_quality"].tolist() == [0] + [-1] * 5  # round 1 was low quality
    assert (buyer["sold"], buyer["high_sold"], buyer["played"]) == (1, 0, 1)
    assert buyer["recommendation"] == 0 and buyer["message"] == ""  # round 2 not yet spoken
    seller = game.observe(SELLER)
    assert (seller["last_bought"], seller["buyer_message"], seller["quality_high"]) == (
        1,
        "thanks",
        1,
    )


@pytest.mark.parametrize("buyer_memory", ["long", "myopic"])
def test_the_seller_sees_every_round_and_the_kind_of_buyer(buyer_memory: str) -> None:
    """GLEE's seller keeps one chat for the whole game and is told which kind of buyer it
    faces; the buyer is told whether the seller knows its values."""
    game = raw_env(rounds=3, buyer_memory=buyer_memory, complete_information=False)
    play_rounds(game, [(YES, YES), (NO, YES), (YES, NO)], seed=0)
    seller, buyer = game.observe(SELLER), game.observe(BUYER)
    assert seller["history_recommended"].tolist() == [1, 0, 1]
    assert seller["history_bought"].tolist() == [1, 1, 0]
    assert seller["history_quality"].tolist() == [0, 1, 1]  # seed 0
    assert seller["long_memory"] == buyer["long_memory"] == int(buyer_memory == "long")
    assert seller["value_known"] == buyer["value_known"] == 0
    game.reset(seed=1)
    assert game.observe(SELLER)["history_bought"].tolist() == [-1] * 3


def test_a_myopic_buyer_sees_only_the_counts() -> None:
    game = raw_env(rounds=6, buyer_memory="myopic")
    outcome = play_rounds(game, [(YES, YES)] * 3 + [(NO, NO)] * 3, seed=0)
    buyer = game.observe(BUYER)
    assert buyer["long_memory"] == 0
    for key in ("history_recommended", "history_bought", "history_quality"):
        assert buyer[key].tolist() == [-1] * 6
    assert (buyer["sold"], buyer["high_sold"]) == (3, 2)
    assert outcome.metrics["sales"] == 3.0


def test_incomplete_information_hides_the_value_from_the_seller() -> None:
    game = raw_env(value_high=3.0, complete_information=False)
    game.reset(seed=0)
    seller = game.observe(SELLER)
    assert seller["value_high"][0] == 0.0 and seller["value_known"] == 0
    assert game.observe(BUYER)["value_high"][0] == np.float32(3.0)


def test_binary_mode_ignores_messages() -> None:
    game = raw_env(message_type="binary")
    game.reset(seed=0)
    game.step(recommend(YES, "ignored"))
    assert game.observe(BUYER)["message"] == ""
    game.step(decide(NO, "ignored too"))
    assert game.observe(SELLER)["buyer_message"] == ""


def test_messages_are_normalised_and_truncated() -> None:
    game = raw_env(message_type="text", message_length=8)
    game.reset(seed=0)
    game.step(recommend(YES, "cafe\u0301 and more"))
    assert game.observe(BUYER)["message"] == "café and"
    game.step(decide(NO, 12345))
    assert game.observe(SELLER)["buyer_message"] == "12345"


def test_observations_stay_as_returned() -> None:
    game = raw_env()
    game.reset(seed=0)
    first = game.observe(BUYER)
    game.step(recommend(YES))
    second = game.observe(BUYER)
    assert second is not first and second["recommendation"] == 1
    assert first["recommendation"] == 0
    game.step(decide(YES))
    assert game.observe(BUYER)["history_bought"][0] == 1 and first["history_bought"][0] == -1
    assert not first["history_bought"].flags.writeable


def test_history_is_cleared_by_reset() -> None:
    game = raw_env(rounds=3)
    play_rounds(game, [(YES, YES)] * 3, seed=0)
    game.reset(seed=1)
    buyer = game.observe(BUYER)
    assert buyer["history_bought"].tolist() == [-1, -1, -1]
    assert (buyer["sold"], buyer["played"]) == (0, 0)
    assert game.observe(SELLER)["last_bought"] == -1


# Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        None,
        1,
        {"recommend": 2, "message": ""},
        {"recommend": -1, "message": ""},
        {"recommend": 1.0, "message": ""},
        {"decision": 1, "message": ""},  # the buyer's field
        {"message": "yes"},
    ],
)
@pytest.mark.parametrize("make", [raw_env, make_env], ids=["raw", "wrapped"])
def test_out_of_space_actions_name_agent_and_space(action: Any, make: Any) -> None:
    game = make()
    game.reset(seed=0)
    with pytest.raises(ValueError, match=r"^seller_0: action .* is not in Dict\("):
        game.step(action)


@pytest.mark.parametrize("make", [raw_env, make_env], ids=["raw", "wrapped"])
def test_buyer_out_of_space_actions_name_agent_and_space(make: Any) -> None:
    game = make()
    game.reset(seed=0)
    game.step(recommend(YES))
    with pytest.raises(ValueError, match=r"^buyer_0: action .* is not in Dict\("):
        game.step({"recommend": 1, "message": ""})


def test_wrapped_env_checks_the_whole_space() -> None:
    game = make_env(message_length=5)
    game.reset(seed=0)
    with pytest.raises(ValueError, match=r"^seller_0: action .* is not in Dict\("):
        game.step(recommend(YES, "far too long"))


def test_finished_agents_step_with_none_only() -> None:
    game = raw_env(rounds=1)
    game.reset(seed=0)
    game.step(recommend(YES))
    game.step(decide(YES))
    with pytest.raises(ValueError, match=r"seller_0: the game is over"):
        game.step(recommend(YES))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("message_type", ["binary", "text"])
def test_random_players_stay_in_the_spaces(seed: int, message_type: str) -> None:
    game = make_env(message_type=message_type, message_length=40, rounds=8)
    random = RandomPolicy(game.action_space, seed=seed)
    outcome = play(game, {SELLER: random, BUYER: random}, seed=seed)
    assert 0.0 <= outcome.metrics["sale_rate"] <= 1.0
    assert [agent for agent, _ in outcome.actions] == [SELLER, BUYER] * 8
    for agent, action in outcome.actions:
        assert game.action_space(agent).contains(action)


# Rendering, pickling ----------------------------------------------------------------------------


def first_line(text: str | None) -> str | None:
    """The summary line an ansi render starts with (the acting player's view follows)."""
    return None if text is None else text.splitlines()[0]


def test_ansi_render_describes_the_state() -> None:
    game = raw_env(render_mode="ansi", rounds=2)
    game.reset(seed=0)
    assert first_line(game.render()) == (
        "round 1 of 2: low quality; the seller decides whether to recommend it"
    )
    game.step(recommend(YES))
    assert first_line(game.render()) == (
        "round 1 of 2: low quality; the seller recommends it; the buyer decides"
    )
    game.step(decide(YES))
    game.step(recommend(NO))
    game.step(decide(NO))
    assert first_line(game.render()) == (
        "over after 2 rounds: 1 sold, 0 of them high quality, in 1 high-quality rounds"
    )
    assert raw_env().render() is None


def test_pickles_with_its_parameters() -> None:
    game = pickle.loads(pickle.dumps(raw_env(money=100.0, rounds=7, message_type="text")))
    assert (game.money, game.rounds, game.message_type) == (100.0, 7, "text")
