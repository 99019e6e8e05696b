"""Scripted persuasion players: the Kamenica-Gentzkow oracle (games.md §6.4) and the heuristics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from agents.base import BatchPolicy
from agents.registry import list_policies, make_policy
from agents.scripted.persuasion import (
    BayesianBuyer,
    CommitmentSeller,
    CredulousBuyer,
    ScepticalBuyer,
    TruthfulSeller,
)
from envs.games.persuasion import env as make_env
from envs.games.persuasion import raw_env
from envs.games.persuasion_rules import (
    BUYER,
    NO,
    SELLER,
    YES,
    commitment_probability,
    commitment_sale_rate,
)
from tests.envs.games.persuasion_episodes import Outcome, play

ENV_ID = "mercato/Persuasion-v0"
GRID_P = (1 / 3, 0.5, 0.8)
GRID_V = (1.2, 1.25, 2.0, 3.0, 4.0)

# (q, P(sale)) from games.md §6.4, to the table's precision.
TABLE = {
    (1 / 3, 1.2): (0.10, 0.40),
    (1 / 3, 1.25): (0.125, 0.417),
    (1 / 3, 2.0): (0.50, 0.667),
    (0.5, 1.2): (0.20, 0.60),
    (0.5, 1.25): (0.25, 0.625),
    (0.8, 1.2): (0.80, 0.96),
}


def pair(seller: Any, buyer: Any) -> dict[str, Any]:
    return {SELLER: seller, BUYER: buyer}


def pooled(outcomes: list[Outcome]) -> tuple[float, float, float, int]:
    """(sale frequency, share of high items sold, share of low items kept, low rounds), pooled
    over every round of ``outcomes``."""
    qualities = np.concatenate([o.qualities for o in outcomes])
    bought = np.concatenate([[a["decision"] for g, a in o.actions if g == BUYER] for o in outcomes])
    high = qualities == 1
    low_rounds = int(np.count_nonzero(~high))
    low_kept = np.count_nonzero(~high & (bought == NO)) / low_rounds
    return float(bought.mean()), float(bought[high].mean()), float(low_kept), low_rounds


@pytest.mark.parametrize(("grid_point", "expected"), list(TABLE.items()))
def test_the_benchmark_matches_the_reference_table(grid_point: Any, expected: Any) -> None:
    (p, v), (q, sale) = grid_point, expected
    assert commitment_probability(p, v) == pytest.approx(q, abs=5e-4)
    assert commitment_sale_rate(p, v) == pytest.approx(sale, abs=5e-4)


@pytest.mark.parametrize("p", GRID_P)
@pytest.mark.parametrize("v", GRID_V)
def test_commitment_against_bayesian_sells_at_the_kamenica_gentzkow_rate(
    p: float, v: float
) -> None:
    """Sale frequency within 3 standard errors of min(1, pv); every high item sold."""
    rounds, episodes = 2_000, 5
    game = raw_env(p_high=p, value_high=v, rounds=rounds)
    buyer = BayesianBuyer()
    outcomes = [
        play(game, pair(CommitmentSeller(seed=seed), buyer), seed=seed) for seed in range(episodes)
    ]
    benchmark = min(1.0, p * v)
    assert outcomes[0].metrics["commitment_sale_rate"] == pytest.approx(benchmark)
    for outcome in outcomes:
        metrics = outcome.metrics
        assert metrics["efficiency"] == 1.0
        assert outcome.returns[SELLER] == pytest.approx(10_000 * metrics["sales"])
        assert outcome.returns[BUYER] == pytest.approx(10_000 * rounds * metrics["self_gain_buyer"])
    sale_rate, high_share, low_kept, low_rounds = pooled(outcomes)
    assert high_share == 1.0
    error = math.sqrt(benchmark * (1 - benchmark) / (rounds * episodes))
    assert abs(sale_rate - benchmark) <= 3 * error
    q = commitment_probability(p, v)
    assert abs(low_kept - (1 - q)) <= 3 * math.sqrt(q * (1 - q) / low_rounds)
    assert [o.metrics["sale_rate"] for o in outcomes] == pytest.approx(
        [o.metrics["sales"] / rounds for o in outcomes]
    )
    if benchmark == 1.0:
        assert sale_rate == 1.0


@pytest.mark.parametrize("memory", ["long", "myopic"])
@pytest.mark.parametrize("message_type", ["binary", "text"])
def test_bayesian_buyer_buys_on_every_recommendation_and_only_then(
    memory: str, message_type: str
) -> None:
    game = raw_env(p_high=1 / 3, value_high=1.2, rounds=200, buyer_memory=memory)
    outcome = play(game, pair(CommitmentSeller(seed=1), BayesianBuyer()))
    recommendations = [a["recommend"] for agent, a in outcome.actions if agent == SELLER]
    decisions = [a["decision"] for agent, a in outcome.actions if agent == BUYER]
    assert decisions == recommendations
    assert 0 < sum(decisions) < 200


def test_commitment_seller_assumes_a_value_when_it_does_not_know_it() -> None:
    """v = 2 hidden: it plays q for v = 1.25 (0.25 at p = 0.5), selling 0.625 instead of 1."""
    rounds = 20_000
    game = raw_env(p_high=0.5, value_high=2.0, rounds=rounds, complete_information=False)
    outcome = play(game, pair(CommitmentSeller(seed=0), BayesianBuyer()))
    error = math.sqrt(0.625 * 0.375 / rounds)
    assert abs(outcome.metrics["sale_rate"] - 0.625) <= 3 * error
    assert outcome.metrics["commitment_sale_rate"] == 1.0
    told = raw_env(p_high=0.5, value_high=2.0, rounds=200)
    assert play(told, pair(CommitmentSeller(seed=0), BayesianBuyer())).metrics["sale_rate"] == 1.0
    other = CommitmentSeller(seed=0, assumed_value=2.0)
    assert play(game, pair(other, BayesianBuyer())).metrics["sale_rate"] == 1.0


def test_commitment_seller_is_reproducible_from_its_seed() -> None:
    game = raw_env(rounds=100)

    def recommendations(seed: int) -> list[int]:
        outcome = play(game, pair(CommitmentSeller(seed=seed), CredulousBuyer()), seed=0)
        return [a["recommend"] for agent, a in outcome.actions if agent == SELLER]

    assert recommendations(1) == recommendations(1)
    assert recommendations(1) != recommendations(2)
    assert not CommitmentSeller.reusable


def test_bayesian_buyer_passes_where_nothing_should_be_recommended() -> None:
    """At p = 0 the committed seller never recommends, so a recommendation proves nothing."""
    observation = {
        "recommendation": 1,
        "p_high": np.array([0.0], np.float32),
        "value_high": np.array([1.25], np.float32),
        "value_low": np.array([0.0], np.float32),
    }
    assert BayesianBuyer().act(observation, BUYER)["decision"] == NO
    observation["p_high"][0] = 1.0
    assert BayesianBuyer().act(observation, BUYER)["decision"] == YES


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"p_high": 0.8, "value_high": 3.0, "message_type": "text"},
        {"p_high": 1 / 3, "buyer_memory": "myopic", "complete_information": False},
    ],
)
@pytest.mark.parametrize("seed", range(3))
def test_truthful_seller_and_credulous_buyer_trade_exactly_the_high_items(
    params: dict[str, Any], seed: int
) -> None:
    game = raw_env(rounds=50, **params)
    outcome = play(game, pair(TruthfulSeller(), CredulousBuyer()), seed=seed)
    metrics, high = outcome.metrics, outcome.qualities.count(1)
    assert metrics["sales"] == metrics["high_rounds"] == high
    assert metrics["efficiency"] in (1.0, None) and metrics["fairness"] in (1.0, None)
    value_high = params.get("value_high", 1.25)
    assert outcome.returns[SELLER] == pytest.approx(10_000 * high)
    assert outcome.returns[BUYER] == pytest.approx(10_000 * (value_high - 1) * high)
    assert metrics["self_gain_buyer"] == pytest.approx((value_high - 1) * high / 50)


def test_sceptical_long_lived_buyer_learns_to_trust_a_truthful_seller() -> None:
    """Prior 0.5 < 1/1.25: it passes on the first recommendation, then buys every one."""
    game = raw_env(rounds=30)
    outcome = play(game, pair(TruthfulSeller(), ScepticalBuyer()), seed=0)
    assert outcome.qualities[:2] == [0, 1]
    assert outcome.metrics["sales"] == outcome.metrics["high_rounds"] - 1
    trusting = raw_env(rounds=30, value_high=3.0)  # prior 0.5 >= 1/3: buys from the start
    outcome = play(trusting, pair(TruthfulSeller(), ScepticalBuyer()), seed=0)
    assert outcome.metrics["sales"] == outcome.metrics["high_rounds"]


def test_sceptical_myopic_buyer_never_buys_below_the_threshold() -> None:
    game = raw_env(rounds=30, buyer_memory="myopic")
    outcome = play(game, pair(TruthfulSeller(), ScepticalBuyer()), seed=0)
    assert outcome.metrics["sales"] == 0.0


def buyer_observation(value_high: float, long_memory: bool) -> dict[str, Any]:
    """A buyer offered a recommendation after four rounds: recommended high, low, high, then a
    low one not recommended; it bought four items, three of them high."""
    return {
        "recommendation": 1,
        "p_high": np.array([0.5], np.float32),
        "value_high": np.array([value_high], np.float32),
        "value_low": np.array([0.0], np.float32),
        "long_memory": int(long_memory),
        "played": 4,
        "history_recommended": np.array([1, 1, 1, 0, -1, -1], np.int8),
        "history_quality": np.array([1, 0, 1, 0, -1, -1], np.int8),
        "sold": 4,
        "high_sold": 3,
    }


@pytest.mark.parametrize(
    ("value_high", "long_memory", "buys"),
    [
        (1.25, True, False),  # 2/3 of recommended items were high < 0.8
        (1.5, True, True),  # 2/3 >= 1/1.5
        (1.25, False, False),  # 3/4 of sold items were high < 0.8
        (1.4, False, True),  # 3/4 >= 1/1.4
    ],
)
def test_sceptical_buyer_uses_what_it_remembers(
    value_high: float, long_memory: bool, buys: bool
) -> None:
    observation = buyer_observation(value_high, long_memory)
    assert ScepticalBuyer().act(observation, BUYER)["decision"] == (YES if buys else NO)
    observation["recommendation"] = 0
    assert ScepticalBuyer().act(observation, BUYER)["decision"] == NO


@pytest.mark.parametrize(
    ("player", "agent"),
    [
        (CommitmentSeller(), BUYER),
        (TruthfulSeller(), BUYER),
        (BayesianBuyer(), SELLER),
        (CredulousBuyer(), SELLER),
        (ScepticalBuyer(), SELLER),
    ],
)
def test_players_refuse_the_other_seat(player: BatchPolicy, agent: str) -> None:
    with pytest.raises(ValueError, match=f"plays .*, not {agent}"):
        player.act({}, agent)


def test_players_are_registered_for_the_env() -> None:
    names = {info.name for info in list_policies(ENV_ID)}
    assert {
        "persuasion/commitment",
        "persuasion/truthful",
        "persuasion/bayesian",
        "persuasion/credulous",
        "persuasion/sceptical",
    } <= names
    game = make_env()
    seller = make_policy("persuasion/commitment", game, seed=3, env_id=ENV_ID, assumed_value=2.0)
    assert isinstance(seller, CommitmentSeller) and seller.assumed_value == 2.0
    for name, cls in (
        ("persuasion/truthful", TruthfulSeller),
        ("persuasion/bayesian", BayesianBuyer),
        ("persuasion/credulous", CredulousBuyer),
        ("persuasion/sceptical", ScepticalBuyer),
    ):
        player = make_policy(name, game, seed=0, env_id=ENV_ID)
        assert isinstance(player, cls) and player.reusable
    with pytest.raises(ValueError, match="unknown option"):
        make_policy("persuasion/truthful", game, seed=0, assumed_value=2.0)
    with pytest.raises(ValueError, match="assumed_value must be > 1"):
        CommitmentSeller(assumed_value=1.0)


@pytest.mark.parametrize("rounds", [1, 20])
@pytest.mark.parametrize(
    "players",
    [
        (CommitmentSeller(), BayesianBuyer()),
        (TruthfulSeller(), ScepticalBuyer()),
        (CommitmentSeller(seed=5), CredulousBuyer()),
    ],
)
@pytest.mark.parametrize(
    "params",
    [
        {"message_type": "text", "complete_information": False},
        {"buyer_memory": "myopic", "p_high": 0.8, "value_high": 4.0},
    ],
)
def test_players_act_inside_the_action_space(
    rounds: int, players: tuple[Any, Any], params: dict[str, Any]
) -> None:
    game = make_env(rounds=rounds, **params)  # checks every action's space
    outcome = play(game, pair(*players))
    assert 0.0 <= outcome.metrics["sale_rate"] <= 1.0
    assert len(outcome.actions) == 2 * rounds
