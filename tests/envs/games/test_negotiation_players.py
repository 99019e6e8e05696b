"""Scripted negotiation players: the equilibrium oracle (games.md §6.3) and the heuristics."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from agents.base import BatchPolicy
from agents.registry import list_policies, make_policy
from agents.scripted.negotiation import (
    AnchoringPlayer,
    EquilibriumPlayer,
    SplitTheDifferencePlayer,
)
from envs.games.negotiation import env as make_env
from envs.games.negotiation import raw_env
from envs.games.negotiation_rules import ACCEPT, BUYER, OFFER, OUTSIDE, REJECT, SELLER
from tests.envs.games.negotiation_episodes import REJECT_ACTION, Outcome, offer, play

ENV_ID = "mercato/Negotiation-v0"
FACTORS = (0.8, 1.0, 1.2, 1.5)

# games.md §6.3: (seller, buyer) gains in units of money at T = 1 and T = 10, and fairness.
TABLE = {
    (0.8, 1.0): ((0.2, 0.0), (0.0, 0.2), 0.96),
    (0.8, 1.2): ((0.4, 0.0), (0.0, 0.4), 0.84),
    (0.8, 1.5): ((0.7, 0.0), (0.0, 0.7), 0.51),
    (1.0, 1.2): ((0.2, 0.0), (0.0, 0.2), 0.96),
    (1.0, 1.5): ((0.5, 0.0), (0.0, 0.5), 0.75),
    (1.2, 1.5): ((0.3, 0.0), (0.0, 0.3), 0.91),
}


def pair(seller: Any, buyer: Any = None) -> dict[str, Any]:
    return {SELLER: seller, BUYER: buyer if buyer is not None else seller}


def values(**params: Any) -> dict[str, Any]:
    return {"seller_value_factor": params.pop("fa"), "buyer_value_factor": params.pop("fb")}


def test_the_grid_splits_six_six_four() -> None:
    pairs = list(itertools.product(FACTORS, repeat=2))
    assert sum(fb > fa for fa, fb in pairs) == len(TABLE) == 6
    assert sum(fb < fa for fa, fb in pairs) == 6 and sum(fb == fa for fa, fb in pairs) == 4


@pytest.mark.parametrize("money", [100.0, 10_000.0, 1_000_000.0])
@pytest.mark.parametrize("horizon", [1, 10])
@pytest.mark.parametrize(("fa", "fb"), list(itertools.product(FACTORS, repeat=2)))
def test_equilibrium_players_reproduce_the_last_proposer_outcome(
    fa: float, fb: float, horizon: int, money: float
) -> None:
    game = raw_env(
        money=money, seller_value_factor=fa, buyer_value_factor=fb, horizon=horizon
    )  # complete information, announced horizon
    outcome = play(game, pair(EquilibriumPlayer()))
    metrics = outcome.metrics
    assert outcome.terminated and metrics["round"] == 1.0
    assert metrics["efficiency"] == 1.0
    if fb <= fa:
        assert metrics["trade"] == 0.0 and metrics["price"] is None
        assert metrics["outside_option"] == 1.0  # the responder walks away: no surplus
        assert (metrics["self_gain_seller"], metrics["self_gain_buyer"]) == (0.0, 0.0)
        assert metrics["fairness"] == 1.0
        assert metrics["spe_price"] is None and metrics["regret_price"] is None
        assert outcome.returns == {SELLER: 0.0, BUYER: 0.0}
        return
    gains_t1, gains_t10, fairness = TABLE[fa, fb]
    expected_price = (fb if horizon == 1 else fa) * money
    assert metrics["trade"] == 1.0 and metrics["outside_option"] == 0.0
    assert metrics["price"] == pytest.approx(expected_price, rel=1e-12)
    assert metrics["spe_price"] == pytest.approx(expected_price, rel=1e-12)
    assert metrics["regret_price"] == pytest.approx(0.0, abs=1e-12)
    gains = (metrics["self_gain_seller"], metrics["self_gain_buyer"])
    assert gains == pytest.approx(gains_t1 if horizon == 1 else gains_t10, abs=1e-6)
    assert metrics["fairness"] == pytest.approx(fairness, abs=1e-6)
    assert metrics["fairness"] == pytest.approx(1 - (fb - fa) ** 2, abs=1e-6)
    assert outcome.returns[SELLER] == pytest.approx(gains[0] * money)
    assert outcome.returns[BUYER] == pytest.approx(gains[1] * money)


@pytest.mark.parametrize(("fa", "fb"), list(TABLE))
def test_unannounced_horizon_splits_the_surplus_evenly(fa: float, fb: float) -> None:
    game = raw_env(seller_value_factor=fa, buyer_value_factor=fb, horizon=30)
    metrics = play(game, pair(EquilibriumPlayer())).metrics
    assert (metrics["trade"], metrics["round"], metrics["fairness"]) == (1.0, 1.0, 1.0)
    assert metrics["price"] == pytest.approx((fa + fb) / 2 * 10_000)
    assert metrics["spe_price"] is None and metrics["regret_price"] is None


@pytest.mark.parametrize("horizon", [1, 10, 30])
@pytest.mark.parametrize(("fa", "fb"), list(itertools.product(FACTORS, repeat=2)))
def test_under_incomplete_information_it_trades_at_cost_iff_efficient(
    fa: float, fb: float, horizon: int
) -> None:
    """Each assumes the other's value equals its own: the seller posts V_A, the buyer takes it
    iff V_B > V_A."""
    game = raw_env(
        seller_value_factor=fa,
        buyer_value_factor=fb,
        horizon=horizon,
        complete_information=False,
    )
    outcome = play(game, pair(EquilibriumPlayer()))
    metrics = outcome.metrics
    assert metrics["round"] == 1.0 and metrics["efficiency"] == 1.0
    assert metrics["trade"] == float(fb > fa)
    assert outcome.actions[0][1]["price"][0] == pytest.approx(fa * 10_000)
    if fb > fa:
        assert metrics["price"] == pytest.approx(fa * 10_000)
        assert metrics["self_gain_buyer"] == pytest.approx(fb - fa)


def test_equilibrium_responder_accepts_its_value_in_the_last_round() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.2)  # T = 1
    accepts = play(game, pair(AnchoringPlayer(anchor=0.5), EquilibriumPlayer()))
    assert accepts.metrics["price"] == pytest.approx(12_000)  # 1.5 · 8,000 = V_B: indifferent
    walks = play(game, pair(AnchoringPlayer(anchor=0.6), EquilibriumPlayer()))
    assert walks.actions[1][1]["decision"] == OUTSIDE
    assert walks.metrics["outside_option"] == 1.0


def test_equilibrium_responder_rejects_less_than_its_continuation() -> None:
    """T = 10: the buyer will offer V_A = 8,000 next round, so it rejects anything above it."""
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.2, horizon=10)
    outcome = play(game, pair(AnchoringPlayer(anchor=0.1), EquilibriumPlayer()))
    assert outcome.actions[1][1]["decision"] == REJECT  # 8,800 > 8,000
    assert outcome.offers(BUYER) == [8_000] * 5  # V_A every even round
    # The anchoring seller holds out until the announced last round, then takes V_A.
    assert outcome.metrics["round"] == 10.0 and outcome.metrics["price"] == 8_000
    # ... and the buyer accepts an offer equal to its continuation price at once.
    exact = play(game, pair(AnchoringPlayer(anchor=0.0), EquilibriumPlayer()))
    assert (exact.metrics["round"], exact.metrics["price"]) == (1.0, 8_000)


def test_equilibrium_player_without_surplus_walks_away_unless_strictly_better() -> None:
    game = raw_env(seller_value_factor=1.2, buyer_value_factor=1.0, horizon=10)
    outcome = play(game, pair(EquilibriumPlayer(), AnchoringPlayer()))
    assert outcome.offers(SELLER) == [12_000]  # its own value
    assert outcome.decisions()[1:] == [REJECT, OFFER, OUTSIDE]  # 5,000 < V_A: the seller walks
    game.reset(seed=0)
    game.step(offer(12_000))
    game.step(REJECT_ACTION)
    game.step(offer(12_000))  # exactly V_A: indifferent, and without surplus it does not trade
    assert EquilibriumPlayer().act(game.observe(SELLER), SELLER)["decision"] == OUTSIDE
    game.reset(seed=0)
    game.step(offer(12_000))
    game.step(REJECT_ACTION)
    game.step(offer(12_500))  # a strict gain
    assert EquilibriumPlayer().act(game.observe(SELLER), SELLER)["decision"] == ACCEPT


# Heuristics ----------------------------------------------------------------------------------


def test_anchoring_first_offers_and_geometric_concessions() -> None:
    game = raw_env(seller_value_factor=1.0, buyer_value_factor=1.0, horizon=8)
    player = AnchoringPlayer(anchor=0.5, concession=0.5)
    outcome = play(game, pair(player))
    assert outcome.metrics["trade"] == 0.0 and outcome.metrics["round"] == 8.0  # no surplus
    assert outcome.offers(SELLER) == pytest.approx([15_000, 12_500, 11_250, 10_625])
    assert outcome.offers(BUYER) == pytest.approx([5_000, 7_500, 8_750, 9_375])
    assert set(outcome.decisions()[1::2]) == {REJECT}  # never the outside option


def test_anchoring_pairs_meet_when_there_is_a_surplus() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.5, horizon=30)
    outcome = play(game, pair(AnchoringPlayer()))
    assert outcome.metrics["trade"] == 1.0 and outcome.metrics["efficiency"] == 1.0
    # Offers approach each other: the seller's fall, the buyer's rise.
    seller_offers, buyer_offers = outcome.offers(SELLER), outcome.offers(BUYER)
    assert seller_offers == sorted(seller_offers, reverse=True)
    assert buyer_offers == sorted(buyer_offers)
    assert seller_offers[0] == pytest.approx(12_000) and buyer_offers[0] == pytest.approx(7_500)


def test_anchoring_accepts_what_is_at_least_its_next_offer() -> None:
    """The seller's next ask is 1.375 · 8,000 = 11,000 (anchor 0.5, concession 0.25)."""
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=2.0, horizon=10)
    buyer_pays = SplitTheDifferencePlayer(anchor=0.45)  # opens at 0.55 · 20,000 = 11,000
    outcome = play(game, pair(AnchoringPlayer(), buyer_pays))
    assert outcome.actions[1][1]["decision"] == REJECT  # 12,000 > 11,000 for the buyer
    assert (outcome.metrics["round"], outcome.metrics["price"]) == (2.0, 11_000)
    stingy = play(game, pair(AnchoringPlayer(), SplitTheDifferencePlayer(anchor=0.46)))
    assert stingy.actions[3][1]["decision"] == REJECT  # 10,800 < 11,000


def test_heuristics_accept_anything_not_losing_in_the_announced_last_round() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.5)  # T = 1
    outcome = play(game, pair(EquilibriumPlayer(), AnchoringPlayer()))
    assert outcome.metrics["price"] == pytest.approx(15_000)  # worth exactly 0 to the buyer
    loses = raw_env(seller_value_factor=0.8, buyer_value_factor=1.0)
    outcome = play(loses, pair(AnchoringPlayer(), SplitTheDifferencePlayer()))
    assert outcome.actions[1][1]["decision"] == REJECT  # 12,000 > V_B: never at a loss
    unannounced = raw_env(seller_value_factor=0.8, buyer_value_factor=1.5, horizon=30)
    outcome = play(unannounced, pair(AnchoringPlayer(anchor=0.9), AnchoringPlayer()))
    assert outcome.actions[1][1]["decision"] == REJECT  # 15,200: it does not know it is last


def test_split_the_difference_offers_midpoints_and_closes_small_gaps() -> None:
    game = raw_env(horizon=30)  # V_A = V_B = 10,000
    outcome = play(game, pair(SplitTheDifferencePlayer()))
    seller_offers, buyer_offers = outcome.offers(SELLER), outcome.offers(BUYER)
    assert seller_offers[:3] == pytest.approx([12_000, 10_000, 10_000])  # never below V_A
    assert buyer_offers[:4] == pytest.approx([8_000, 9_000, 9_500, 9_750])  # halfway each time
    assert outcome.metrics["trade"] == 1.0 and outcome.metrics["price"] == pytest.approx(10_000)
    # The buyer closes once its next midpoint is within 1% of the money of the ask.
    assert outcome.metrics["round"] == 11.0


def test_split_the_difference_meets_halfway_on_a_surplus() -> None:
    game = raw_env(seller_value_factor=0.8, buyer_value_factor=1.5, horizon=10)
    strict = SplitTheDifferencePlayer(anchor=0.0, tolerance=0.0)
    outcome = play(game, pair(AnchoringPlayer(anchor=1.0, concession=0.0), strict))
    # The buyer opens at its value 15,000 against 16,000, then splits: 15,500 > V_B is capped;
    # the seller, which never concedes, takes 15,000 in the announced last round.
    assert outcome.offers(BUYER) == [15_000] * 5
    assert (outcome.metrics["round"], outcome.metrics["price"]) == (10.0, 15_000)
    outcome = play(game, pair(SplitTheDifferencePlayer(), strict))
    assert (outcome.metrics["round"], outcome.metrics["price"]) == (1.0, pytest.approx(9_600))


@pytest.mark.parametrize(
    ("player", "options", "error"),
    [
        (AnchoringPlayer, {"anchor": -0.1}, "anchor must be a number >= 0"),
        (AnchoringPlayer, {"concession": 1.5}, "concession must be in"),
        (AnchoringPlayer, {"anchor": "far"}, "anchor"),
        (SplitTheDifferencePlayer, {"anchor": float("nan")}, "anchor"),
        (SplitTheDifferencePlayer, {"tolerance": -1.0}, "tolerance must be a number >= 0"),
    ],
)
def test_heuristics_reject_bad_options(player: Any, options: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        player(**options)


def test_players_are_registered_for_the_env() -> None:
    names = {info.name for info in list_policies(ENV_ID)}
    assert {
        "negotiation/equilibrium",
        "negotiation/anchoring",
        "negotiation/split-the-difference",
    } <= names
    game = make_env()
    player = make_policy("negotiation/anchoring", game, seed=3, env_id=ENV_ID, anchor=0.8)
    assert isinstance(player, AnchoringPlayer) and isinstance(player, BatchPolicy)
    assert (player.anchor, player.concession) == (0.8, 0.25)
    split = make_policy("negotiation/split-the-difference", game, seed=0, tolerance=0.05)
    assert isinstance(split, SplitTheDifferencePlayer) and split.tolerance == 0.05
    assert isinstance(make_policy("negotiation/equilibrium", game, seed=0), EquilibriumPlayer)
    assert all(p.reusable for p in (player, split, EquilibriumPlayer()))
    with pytest.raises(ValueError, match="unknown option"):
        make_policy("negotiation/equilibrium", game, seed=0, anchor=0.8)


@pytest.mark.parametrize("params", [{"horizon": 1}, {"horizon": 10}, {"horizon": 30}])
@pytest.mark.parametrize(
    "players",
    [
        (EquilibriumPlayer(), AnchoringPlayer()),
        (AnchoringPlayer(anchor=100.0), EquilibriumPlayer()),  # asks are capped to the space
        (SplitTheDifferencePlayer(), AnchoringPlayer(anchor=2.0, concession=0.1)),
        (AnchoringPlayer(concession=0.0), SplitTheDifferencePlayer(anchor=0.5)),
    ],
)
@pytest.mark.parametrize("information", [True, False])
def test_players_act_inside_the_action_space(
    params: dict[str, Any], players: tuple[Any, Any], information: bool
) -> None:
    for fa, fb in ((0.8, 1.5), (1.5, 0.8), (1.0, 1.0)):
        game = make_env(  # checks every action against the whole space
            seller_value_factor=fa,
            buyer_value_factor=fb,
            complete_information=information,
            **params,
        )
        outcome: Outcome = play(game, pair(*players))
        assert outcome.metrics["trade"] in (0.0, 1.0)
        assert outcome.actions
        if outcome.metrics["trade"]:  # no scripted player trades at a loss
            assert outcome.metrics["self_gain_seller"] >= -1e-6
            assert outcome.metrics["self_gain_buyer"] >= -1e-6
        assert outcome.decisions()[-1] in (ACCEPT, REJECT, OUTSIDE)
