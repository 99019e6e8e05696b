"""Scripted bargaining players: the equilibrium oracles (games.md §6.1-6.2) and the heuristics."""

from __future__ import annotations

from typing import Any

import pytest

from agents.base import BatchPolicy
from agents.registry import list_policies, make_policy
from agents.scripted.bargaining import (
    EquilibriumPlayer,
    EvenSplitPlayer,
    LinearConcessionPlayer,
)
from envs.games.bargaining import env as make_env
from envs.games.bargaining import raw_env
from envs.games.bargaining_rules import ALICE, BOB
from tests.envs.games.episodes import Outcome, play

ENV_ID = "mercato/Bargaining-v0"
GRID = (0.8, 0.9, 0.95, 1.0)

# Alice's round-1 share in the subgame-perfect equilibrium, games.md §6.2: (unannounced, T = 12).
TABLE = {
    (0.8, 0.8): (0.556, 0.517),
    (0.8, 0.9): (0.357, 0.307),
    (0.8, 0.95): (0.208, 0.168),
    (0.8, 1.0): (0.0, 0.0),
    (0.9, 0.8): (0.714, 0.615),
    (0.9, 0.9): (0.526, 0.378),
    (0.9, 0.95): (0.345, 0.210),
    (0.9, 1.0): (0.0, 0.0),
    (0.95, 0.8): (0.833, 0.673),
    (0.95, 0.9): (0.690, 0.420),
    (0.95, 0.95): (0.513, 0.236),
    (0.95, 1.0): (0.0, 0.0),
    (1.0, 0.8): (1.0, 0.738),
    (1.0, 0.9): (1.0, 0.469),
    (1.0, 0.95): (1.0, 0.265),
    (1.0, 1.0): (None, 0.0),
}


def pair(player: Any, other: Any = None) -> dict[str, Any]:
    return {ALICE: player, BOB: other if other is not None else player}


def assert_immediate_equilibrium(outcome: Outcome, expected: float) -> None:
    metrics = outcome.metrics
    assert metrics["deal"] == 1.0 and metrics["round"] == 1.0
    assert metrics["alice_share"] == pytest.approx(expected, abs=5e-4)  # the table's 3 decimals
    assert metrics["alice_share"] == pytest.approx(metrics["spe_alice_share"], abs=1e-9)
    assert metrics["regret_alice_share"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["efficiency"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("delta_alice", "delta_bob"), [key for key, (x, _) in TABLE.items() if x is not None]
)
def test_equilibrium_players_reproduce_rubinstein(delta_alice: float, delta_bob: float) -> None:
    game = raw_env(discount_alice=delta_alice, discount_bob=delta_bob)  # T = 99, unannounced
    outcome = play(game, pair(EquilibriumPlayer()))
    assert_immediate_equilibrium(outcome, TABLE[delta_alice, delta_bob][0])
    rubinstein = (1 - delta_bob) / (1 - delta_alice * delta_bob)
    assert outcome.metrics["alice_share"] == pytest.approx(rubinstein, abs=1e-9)


@pytest.mark.parametrize(("delta_alice", "delta_bob"), list(TABLE))
def test_equilibrium_players_reproduce_backward_induction(
    delta_alice: float, delta_bob: float
) -> None:
    game = raw_env(discount_alice=delta_alice, discount_bob=delta_bob, horizon=12)
    assert_immediate_equilibrium(
        play(game, pair(EquilibriumPlayer())), TABLE[delta_alice, delta_bob][1]
    )


@pytest.mark.parametrize("delta", GRID[:3])
def test_equal_discounts_need_no_information_about_the_other(delta: float) -> None:
    game = raw_env(discount_alice=delta, discount_bob=delta, complete_information=False)
    assert_immediate_equilibrium(play(game, pair(EquilibriumPlayer())), TABLE[delta, delta][0])


def test_under_incomplete_information_it_assumes_its_own_discount() -> None:
    """Alice (δ 0.8) asks 1/1.8 believing Bob is as impatient; Bob (δ 0.95) wants 0.95/1.95."""
    game = raw_env(discount_alice=0.8, discount_bob=0.95, complete_information=False)
    outcome = play(game, pair(EquilibriumPlayer()))
    first_offer = outcome.actions[0][1]["alice_share"][0]
    assert first_offer == pytest.approx(1 / 1.8, abs=1e-6)
    assert outcome.actions[1][1]["decision"] == 2  # 1 - 1/1.8 < 0.95 / 1.95
    assert outcome.metrics["round"] > 1


def test_both_patient_without_horizon_split_evenly() -> None:
    game = raw_env(discount_alice=1.0, discount_bob=1.0)
    outcome = play(game, pair(EquilibriumPlayer()))
    assert (outcome.metrics["round"], outcome.metrics["alice_share"]) == (1.0, 0.5)
    assert outcome.metrics["spe_alice_share"] is None


def test_equilibrium_responder_accepts_anything_in_the_last_round() -> None:
    game = raw_env(horizon=1)
    outcome = play(game, pair(LinearConcessionPlayer(anchor=0.95), EquilibriumPlayer()))
    assert outcome.metrics["deal"] == 1.0
    assert outcome.metrics["alice_share"] == pytest.approx(0.95)


def test_equilibrium_responder_rejects_less_than_its_continuation() -> None:
    """Unannounced 0.9/0.9: Bob accepts iff he gets at least 0.9 · 0.526."""
    threshold = 0.9 * (0.1 / 0.19)
    generous = play(
        raw_env(), pair(LinearConcessionPlayer(anchor=1 - threshold), EquilibriumPlayer())
    )
    assert generous.metrics["round"] == 1.0
    greedy = play(raw_env(), pair(LinearConcessionPlayer(anchor=0.56), EquilibriumPlayer()))
    assert greedy.actions[1][1]["decision"] == 2


def test_even_split_players_agree_at_once_on_half() -> None:
    outcome = play(raw_env(), pair(EvenSplitPlayer()))
    assert (outcome.metrics["round"], outcome.metrics["alice_share"]) == (1.0, 0.5)
    assert outcome.metrics["fairness"] == 1.0
    assert outcome.returns == {ALICE: 5_000.0, BOB: 5_000.0}


def test_even_split_accepts_half_and_refuses_less() -> None:
    accepts = play(raw_env(), pair(LinearConcessionPlayer(anchor=0.5), EvenSplitPlayer()))
    assert accepts.metrics["round"] == 1.0
    refuses = play(
        raw_env(), pair(LinearConcessionPlayer(anchor=0.51, floor=0.51), EvenSplitPlayer())
    )
    assert refuses.metrics["deal"] == 0.0 and refuses.metrics["round"] == 99.0


@pytest.mark.parametrize(
    ("anchor", "floor", "rounds", "meeting"),
    [(0.9, 0.5, 10, 10), (0.8, 0.5, 4, 4), (0.9, 0.4, 10, 9), (0.5, 0.5, 1, 1), (0.7, 0.5, 1, 1)],
)
def test_linear_concession_pairs_agree_within_their_rounds(
    anchor: float, floor: float, rounds: int, meeting: int
) -> None:
    player = LinearConcessionPlayer(anchor=anchor, floor=floor, rounds=rounds)
    outcome = play(raw_env(), pair(player))
    assert outcome.metrics["deal"] == 1.0
    assert outcome.metrics["round"] == meeting <= rounds


def test_linear_concession_follows_its_schedule() -> None:
    player = LinearConcessionPlayer(anchor=0.9, floor=0.5, rounds=5)
    outcome = play(raw_env(), pair(player, EvenSplitPlayer()))
    alice_offers = [
        action["alice_share"][0] for agent, action in outcome.actions if agent == ALICE
    ][::2]
    assert alice_offers == pytest.approx([0.9, 0.7, 0.5], abs=1e-6)  # rounds 1, 3 and 5
    assert outcome.metrics["round"] == 5.0  # Bob's 50/50 in round 4 is below Alice's 0.6
    assert outcome.metrics["alice_share"] == 0.5


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"anchor": 1.1}, "anchor=1.1"),
        ({"floor": 0.6, "anchor": 0.5}, "floor=0.6"),
        ({"floor": -0.1}, "floor=-0.1"),
        ({"rounds": 0}, "rounds must be an int >= 1"),
    ],
)
def test_linear_concession_rejects_bad_options(options: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        LinearConcessionPlayer(**options)


def test_players_are_registered_for_the_env() -> None:
    names = {info.name for info in list_policies(ENV_ID)}
    assert {
        "bargaining/equilibrium",
        "bargaining/even-split",
        "bargaining/linear-concession",
    } <= names
    game = make_env()
    player = make_policy(
        "bargaining/linear-concession", game, seed=3, env_id=ENV_ID, anchor=0.8, rounds=4
    )
    assert isinstance(player, LinearConcessionPlayer) and isinstance(player, BatchPolicy)
    assert (player.anchor, player.floor, player.rounds) == (0.8, 0.5, 4)
    assert isinstance(make_policy("bargaining/equilibrium", game, seed=0), EquilibriumPlayer)
    with pytest.raises(ValueError, match="unknown option"):
        make_policy("bargaining/even-split", game, seed=0, anchor=0.8)


@pytest.mark.parametrize("horizon", [1, 12, 99])
@pytest.mark.parametrize(
    "players",
    [
        (EquilibriumPlayer(), LinearConcessionPlayer()),
        (LinearConcessionPlayer(anchor=0.7, rounds=3), EquilibriumPlayer()),
        (EvenSplitPlayer(), LinearConcessionPlayer(floor=0.6)),
    ],
)
def test_players_act_inside_the_action_space(horizon: int, players: tuple[Any, Any]) -> None:
    game = make_env(horizon=horizon, complete_information=False)  # checks every action's space
    outcome = play(game, pair(*players))
    assert outcome.metrics["deal"] in (0.0, 1.0)
    assert outcome.actions
