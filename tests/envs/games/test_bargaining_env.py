"""`mercato/Bargaining-v0`: conformance, rules, rewards and metrics by hand, bad input."""

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
from envs.games.bargaining import env as make_env
from envs.games.bargaining import raw_env
from envs.games.bargaining_rules import ACCEPT, ALICE, BOB, OFFER, REJECT
from tests.envs.games.episodes import ACCEPT_ACTION, REJECT_ACTION, offer, play, play_actions

ENV_ID = "mercato/Bargaining-v0"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # api_test's style warnings


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"complete_information": False, "messages": True},
        {"horizon": 12},
        {"horizon": 12, "announce_horizon": False, "messages": True, "message_length": 20},
        {"horizon": 1},
        {"horizon": 1, "complete_information": False, "messages": True},
        {"horizon": 5, "max_cycles": 2},
        {"discount_alice": 1.0, "discount_bob": 1.0, "money": 100.0},
    ],
    ids=lambda params: ",".join(f"{k}={v}" for k, v in params.items()) or "defaults",
)
def test_passes_the_conformance_checks(params: dict[str, Any]) -> None:
    check_aec_env(lambda: make_env(**params))


def test_registered_with_pettingzoo_and_listed() -> None:
    game = pettingzoo.make("aec", ENV_ID, horizon=12, discount_bob=0.8)
    game.reset(seed=0)
    assert isinstance(game, AECEnv)
    assert game.agents == [ALICE, BOB]
    assert isinstance(game.unwrapped, raw_env)
    assert game.unwrapped.horizon == 12
    assert game.unwrapped.discounts == {ALICE: 0.9, BOB: 0.8}
    (info,) = [info for info in envs.list_envs() if info.id == ENV_ID]
    assert (info.kind, info.family) == ("aec", "games")


def test_docstring_follows_the_template() -> None:
    assert missing_doc_sections(raw_env) == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"money": 0}, "money"),
        ({"money": float("inf")}, "money"),
        ({"money": "10"}, "money"),
        ({"discount_alice": 0.0}, "discount_alice"),
        ({"discount_bob": 1.01}, "discount_bob"),
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


# Rewards and metrics by hand (δ_A = δ_B = 0.9, money 10,000) ------------------------------------


def test_deal_in_round_one() -> None:
    outcome = play_actions(raw_env(), [offer(0.75), ACCEPT_ACTION])
    assert outcome.terminated and not outcome.truncated
    assert outcome.returns == pytest.approx({ALICE: 7_500.0, BOB: 2_500.0})
    assert outcome.metrics == pytest.approx(
        {
            "deal": 1.0,
            "round": 1.0,
            "alice_share": 0.75,
            "self_gain_alice": 0.75,
            "self_gain_bob": 0.25,
            "efficiency": 1.0,
            "fairness": 0.75,  # 1 - 4 * 0.25²
            "spe_alice_share": 1 / 1.9,  # (1 - 0.9) / (1 - 0.81)
            "regret_alice_share": 0.75 - 1 / 1.9,
        }
    )


def test_deal_in_round_three_is_discounted_twice() -> None:
    game = raw_env(discount_alice=0.8, discount_bob=0.5, horizon=12)
    actions = [offer(0.9), REJECT_ACTION, offer(0.2), REJECT_ACTION, offer(0.6), ACCEPT_ACTION]
    outcome = play_actions(game, actions)
    assert [agent for agent, _ in outcome.actions] == [ALICE, BOB, BOB, ALICE, ALICE, BOB]
    assert outcome.returns == pytest.approx({ALICE: 10_000 * 0.64 * 0.6, BOB: 10_000 * 0.25 * 0.4})
    spe = game.spe_alice_share
    assert outcome.metrics == pytest.approx(
        {
            "deal": 1.0,
            "round": 3.0,
            "alice_share": 0.6,
            "self_gain_alice": 0.64 * 0.6,
            "self_gain_bob": 0.25 * 0.4,
            "efficiency": 0.64 * 0.6 + 0.25 * 0.4,
            "fairness": 1 - 4 * 0.1**2,
            "spe_alice_share": spe,
            "regret_alice_share": abs(0.6 - spe),
        }
    )


def test_no_deal_pays_nothing_and_has_the_papers_metrics() -> None:
    outcome = play_actions(
        raw_env(horizon=2), [offer(0.5), REJECT_ACTION, offer(0.5), REJECT_ACTION]
    )
    assert outcome.terminated and not outcome.truncated
    assert outcome.returns == {ALICE: 0.0, BOB: 0.0}
    assert outcome.metrics == {
        "deal": 0.0,
        "round": 2.0,
        "alice_share": None,
        "self_gain_alice": 0.0,
        "self_gain_bob": 0.0,
        "efficiency": 0.0,
        "fairness": 1.0,  # the paper's value; GLEE's code says 0
        "spe_alice_share": pytest.approx(0.1),  # T=2 announced: x_2 = 1, x_1 = 1 - 0.9
        "regret_alice_share": None,
    }


def test_undefined_metrics_survive_pettingzoos_equality() -> None:
    """seed_test compares infos with ==, so undefined metrics must not be NaN."""
    game = raw_env(discount_alice=1.0, discount_bob=1.0, horizon=1, announce_horizon=False)
    first, second = (play_actions(game, [offer(0.5), REJECT_ACTION]) for _ in range(2))
    assert first.metrics["spe_alice_share"] is None
    assert data_equivalence(first.metrics, second.metrics)


def test_max_cycles_truncates_with_no_deal() -> None:
    game = raw_env(horizon=10, max_cycles=2)
    outcome = play_actions(game, [offer(0.9), REJECT_ACTION, offer(0.1), REJECT_ACTION])
    assert outcome.truncated and not outcome.terminated
    assert outcome.metrics["deal"] == 0.0
    assert outcome.metrics["round"] == 2.0
    assert len(outcome.actions) == 4


def test_rewards_arrive_only_at_the_end() -> None:
    game = raw_env()
    game.reset(seed=0)
    game.step(offer(0.5))
    game.step(REJECT_ACTION)
    assert game.rewards == {ALICE: 0.0, BOB: 0.0}
    assert game._cumulative_rewards == {ALICE: 0.0, BOB: 0.0}


# Observations and masks ---------------------------------------------------------------------


def test_first_observations_and_masks() -> None:
    game = raw_env(discount_alice=0.8, discount_bob=0.95, horizon=12)
    game.reset(seed=0)
    alice, bob = game.observe(ALICE), game.observe(BOB)
    assert "action_mask" not in alice
    assert alice["round"] == 1 and alice["phase"] == 0 and alice["role"] == 0 and bob["role"] == 1
    assert alice["decision_mask"].tolist() == [1, 0, 0]
    assert bob["decision_mask"].tolist() == [0, 0, 0]
    assert alice["own_discount"][0] == np.float64(0.8)
    assert alice["other_discount"][0] == np.float64(0.95) and alice["other_discount_known"] == 1
    assert alice["horizon"] == 12 and alice["money"][0] == 10_000
    assert game.infos[ALICE]["action_mask"]["decision"].tolist() == [1, 0, 0]
    assert game.infos[ALICE]["action_mask"]["alice_share"] is None
    for agent, observation in ((ALICE, alice), (BOB, bob)):
        space = game.observation_space(agent)
        assert space is game.observation_space(agent)
        assert space.contains(observation)
        for key in ("offer", "money", "own_discount", "other_discount", "decision_mask"):
            assert observation[key].dtype == space[key].dtype


def test_responder_sees_the_offer_and_its_mask() -> None:
    game = raw_env(messages=True)
    game.reset(seed=0)
    game.step(offer(0.7, "my best offer"))
    observation = game.observe(BOB)
    assert game.agent_selection == BOB
    assert observation["phase"] == 1
    assert observation["offer"][0] == np.float64(0.7)
    assert observation["decision_mask"].tolist() == [0, 1, 1]
    assert observation["last_message"] == "my best offer"
    assert game.infos[BOB]["action_mask"]["decision"].tolist() == [0, 1, 1]


def test_incomplete_information_hides_the_other_discount() -> None:
    game = raw_env(discount_alice=0.8, discount_bob=0.95, complete_information=False)
    game.reset(seed=0)
    for agent, own in ((ALICE, 0.8), (BOB, 0.95)):
        observation = game.observe(agent)
        assert observation["own_discount"][0] == np.float64(own)
        assert observation["other_discount"][0] == 0.0
        assert observation["other_discount_known"] == 0


@pytest.mark.parametrize(
    ("horizon", "announce", "seen"),
    [(20, None, 20), (21, None, 0), (99, None, 0), (12, False, 0), (99, True, 99)],
)
def test_horizon_is_announced_by_glees_rule_unless_told(
    horizon: int, announce: bool | None, seen: int
) -> None:
    game = raw_env(horizon=horizon, announce_horizon=announce)
    game.reset(seed=0)
    assert game.observe(ALICE)["horizon"] == seen


def test_observations_stay_as_returned() -> None:
    game = raw_env()
    game.reset(seed=0)
    first = game.observe(BOB)
    game.step(offer(0.3))
    second = game.observe(BOB)
    assert second is not first and second["offer"][0] == np.float64(0.3)
    assert first["offer"][0] == 0.0 and first["phase"] == 0
    assert not first["offer"].flags.writeable and not first["offers"].flags.writeable


def test_both_players_see_every_rejected_offer_and_its_message() -> None:
    game = raw_env(messages=True, horizon=5)
    game.reset(seed=0)
    game.step(offer(0.7, "take it"))
    assert game.observe(BOB)["offers"].tolist() == [0.0] * 5  # round 1 is still on the table
    game.step(REJECT_ACTION)
    game.step(offer(0.4))
    game.step(REJECT_ACTION)
    game.step(offer(0.6, "last"))
    for agent in (ALICE, BOB):
        observation = game.observe(agent)
        assert observation["offers"].tolist() == [0.7, 0.4, 0.0, 0.0, 0.0]
        assert observation["offer_messages"] == ("take it", "", "", "", "")
        assert game.observation_space(agent).contains(observation)
    game.step(ACCEPT_ACTION)
    assert game.observe(BOB)["offers"].tolist() == [0.7, 0.4, 0.0, 0.0, 0.0]  # round 3: the deal


def test_the_history_is_cleared_by_reset_and_silent_without_messages() -> None:
    game = raw_env(messages=True, horizon=5)
    game.reset(seed=0)
    game.step(offer(0.7, "take it"))
    game.step(REJECT_ACTION)
    game.reset(seed=1)
    for agent in (ALICE, BOB):
        assert game.observe(agent)["offers"].tolist() == [0.0] * 5
        assert game.observe(agent)["offer_messages"] == ("",) * 5
    silent = raw_env(horizon=5)
    silent.reset(seed=0)
    silent.step(offer(0.7, "take it"))
    silent.step(REJECT_ACTION)
    assert silent.observe(ALICE)["offers"][0] == np.float64(0.7)
    assert silent.observe(ALICE)["offer_messages"] == ("",) * 5


def test_masked_decisions_are_read_sensibly() -> None:
    """A proposer's accept/reject is an offer of its share; a responder's offer is a rejection."""
    game = raw_env()
    game.reset(seed=0)
    game.step({**ACCEPT_ACTION, "alice_share": np.array([0.6], dtype=np.float64)})
    assert game.agent_selection == BOB and game.observe(BOB)["offer"][0] == np.float64(0.6)
    game.step(offer(0.2))  # Bob "offers" while responding: a rejection
    assert game.agent_selection == BOB
    assert game.observe(BOB)["round"] == 2 and game.observe(BOB)["phase"] == 0


# Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        None,
        3,
        {"decision": 3, "alice_share": np.array([0.5], np.float64), "message": ""},
        {"decision": 0.0, "alice_share": np.array([0.5], np.float64), "message": ""},
        {"decision": 0, "alice_share": np.array([1.5], np.float64), "message": ""},
        {"decision": 0, "alice_share": np.array([np.nan], np.float64), "message": ""},
        {"decision": 0, "alice_share": np.array([0.2, 0.3], np.float64), "message": ""},
        {"decision": 0, "message": ""},
    ],
)
@pytest.mark.parametrize("make", [raw_env, make_env], ids=["raw", "wrapped"])
def test_out_of_space_actions_name_agent_and_space(action: Any, make: Any) -> None:
    game = make()
    game.reset(seed=0)
    with pytest.raises(ValueError, match=r"^alice_0: action .* is not in Dict\("):
        game.step(action)


def test_wrapped_env_checks_the_whole_space() -> None:
    game = make_env(message_length=5)
    game.reset(seed=0)
    with pytest.raises(ValueError, match=r"^alice_0: action .* is not in Dict\("):
        game.step(offer(0.5, "far too long"))


def test_finished_agents_step_with_none_only() -> None:
    game = raw_env()
    game.reset(seed=0)
    game.step(offer(0.5))
    game.step(ACCEPT_ACTION)
    with pytest.raises(ValueError, match=r"alice_0: the game is over"):
        game.step(offer(0.5))


def test_messages_are_normalised_truncated_or_ignored() -> None:
    game = raw_env(messages=True, message_length=8)
    game.reset(seed=0)
    game.step(offer(0.5, "cafe\u0301 and more"))
    assert game.observe(BOB)["last_message"] == "café and"
    game.step(REJECT_ACTION)
    game.step(offer(0.5, 12345))
    assert game.observe(ALICE)["last_message"] == "12345"
    silent = raw_env(messages=False)
    silent.reset(seed=0)
    silent.step(offer(0.5, "hello"))
    assert silent.observe(BOB)["last_message"] == ""


@pytest.mark.parametrize("seed", range(3))
def test_random_players_with_random_messages_stay_in_the_spaces(seed: int) -> None:
    game = make_env(messages=True, message_length=40, horizon=6)
    random = RandomPolicy(game.action_space, seed=seed)
    outcome = play(game, {ALICE: random, BOB: random}, seed=seed)
    assert outcome.metrics["deal"] in (0.0, 1.0)
    for agent, action in outcome.actions:
        assert game.action_space(agent).contains(action)
    decisions = [int(action["decision"]) for _, action in outcome.actions]
    assert decisions[0] == OFFER and set(decisions[1::2]) <= {ACCEPT, REJECT}


# Rendering, pickling, seeding -----------------------------------------------------------------


def first_line(text: str | None) -> str | None:
    """The summary line an ansi render starts with (the acting player's view follows)."""
    return None if text is None else text.splitlines()[0]


def test_ansi_render_describes_the_state() -> None:
    game = raw_env(render_mode="ansi")
    game.reset(seed=0)
    assert first_line(game.render()) == "round 1: Alice proposes"
    game.step(offer(0.6))
    assert first_line(game.render()) == "round 1: Bob considers the offer Alice 60.0% / Bob 40.0%"
    game.step(ACCEPT_ACTION)
    assert first_line(game.render()) == "deal in round 1: Alice 60.0% / Bob 40.0%"
    assert raw_env().render() is None


def test_pickles_with_its_parameters() -> None:
    game = pickle.loads(pickle.dumps(raw_env(money=100.0, horizon=7, messages=True)))
    assert (game.money, game.horizon, game.messages) == (100.0, 7, True)


def test_np_random_comes_lazily_from_the_reset_seed() -> None:
    game = raw_env()
    game.reset(seed=7)
    game.reset()
    assert game.np_random.random() == make_rng(7)[0].random()
