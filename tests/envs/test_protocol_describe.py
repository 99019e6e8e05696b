"""`TextProtocol.describe`: the reply text that `parse` reads back as the action, checked at
every decision of seeded episodes of the three games, with scripted and random players."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest

from agents.registry import make_policy
from envs.core.protocol import ActionParseError, TextProtocol, ValidAction, protocol_of
from envs.core.spaces import normalize_text
from envs.core.text import exact_amount, reply_message
from envs.games import (
    bargaining,
    bargaining_rules,
    negotiation,
    negotiation_rules,
    persuasion,
    persuasion_rules,
)
from envs.games.bargaining_rules import SHARE_TOLERANCE
from tests.envs import describe_checks
from tests.envs.describe_checks import Choose, random_chooser, scripted_chooser, scripted_names

Read = Callable[[Any, Any], tuple[Any, float, str]]
"""What the env makes of an action: (decision, amount, message) as it would read them."""

SEEDS = range(3)
RANDOM_EPISODES = 40


def check_decision(
    protocol: TextProtocol, action: Any, obs: Any, agent: str, read: Read, exact: bool
) -> str:
    """Describe ``action``, parse the text back and compare what the env reads of both; with
    ``exact``, messages must come back untrimmed (scripted players write tidy ones)."""
    text = protocol.describe(action, obs, agent)
    decision, amount, message = read(protocol.parse(text, obs, agent), obs)
    want_decision, want_amount, want_message = read(action, obs)
    assert decision == want_decision, text
    tolerance = TOLERANCE[protocol.name]
    if protocol.name == "bargaining":  # both amounts to the cent: a cent of the money
        tolerance += 0.01 / float(obs["money"][0])
    assert amount == pytest.approx(want_amount, rel=0.0, abs=tolerance), text
    assert message == reply_message(want_message, protocol.message_length), text
    assert message == want_message or not exact, text
    return message


TOLERANCE = {"bargaining": SHARE_TOLERANCE, "negotiation": 0.0, "persuasion": 0.0}
"""How far `parse(describe(a))` may be from ``a``'s amount (see each protocol's `describe`)."""


def play(game: Any, seed: int, choose: Choose, read: Read, exact: bool = True) -> tuple[int, int]:
    """One episode, every decision checked; returns (decisions, non-blank messages seen)."""
    protocol = protocol_of(game)
    return describe_checks.play(
        game,
        seed,
        choose,
        lambda action, obs, agent: check_decision(protocol, action, obs, agent, read, exact),
    )


def play_pairs(
    game: Any, pairs: Iterable[tuple[str, str]], agents: tuple[str, str], read: Read
) -> tuple[list[int], int]:
    """Every pair of scripted players over `SEEDS`, every decision checked; returns the
    decisions of each episode and the non-blank messages seen."""
    decisions, seen = [], 0
    for first, second in pairs:
        for seed in SEEDS:
            policies = {
                agents[0]: make_policy(first, game, seed=seed),
                agents[1]: make_policy(second, game, seed=seed),
            }
            count, messages = play(game, seed, scripted_chooser(policies), read)
            decisions.append(count)
            seen += messages
    return decisions, seen


def random_messages(game: Any, read: Read) -> int:
    """`RANDOM_EPISODES` random episodes, every decision checked; the messages seen."""
    return sum(
        play(game, seed, random_chooser(game, seed), read, exact=False)[1]
        for seed in range(RANDOM_EPISODES)
    )


# Bargaining ------------------------------------------------------------------------------------


def read_bargaining(action: Any, obs: Any) -> tuple[Any, float, str]:
    """A proposer's action is an offer of its share (with its message when messages are on);
    a responder's accepts or rejects (an offer counts as a rejection) and carries nothing."""
    if obs["decision_mask"][bargaining_rules.OFFER]:
        message = normalize_text(action["message"], 500) if obs["messages_allowed"] else ""
        return "offer", float(np.asarray(action["alice_share"]).item()), message
    return action["decision"] == bargaining_rules.ACCEPT, 0.0, ""


BARGAINING_GAMES = [
    {},
    {"money": 100.0, "horizon": 5, "messages": True},
    {"money": 1e6, "discount_alice": 0.8, "discount_bob": 0.95, "complete_information": False},
    {"money": 0.37, "horizon": 3, "discount_alice": 1.0, "messages": True},
    {"money": 123_456.789, "horizon": 8, "announce_horizon": False, "messages": True},
]


@pytest.mark.parametrize("kwargs", BARGAINING_GAMES)
def test_bargaining_scripted_play_round_trips(kwargs: dict[str, Any]) -> None:
    game = bargaining.env(**kwargs)
    pairs = itertools.product(scripted_names("mercato/Bargaining-v0"), repeat=2)
    agents = (bargaining_rules.ALICE, bargaining_rules.BOB)
    decisions, _ = play_pairs(game, pairs, agents, read_bargaining)
    assert min(decisions) >= 1


@pytest.mark.parametrize("kwargs", BARGAINING_GAMES)
def test_bargaining_random_play_round_trips(kwargs: dict[str, Any]) -> None:
    seen = random_messages(bargaining.env(**kwargs), read_bargaining)
    assert seen > 0 if kwargs.get("messages") else seen == 0


# Negotiation -----------------------------------------------------------------------------------


def read_negotiation(action: Any, obs: Any) -> tuple[Any, float, str]:
    """A proposer's action is an offer at its price; a responder's accepts, takes the outside
    option or rejects (an offer counts as a rejection) and carries nothing."""
    if obs["decision_mask"][negotiation_rules.OFFER]:
        message = normalize_text(action["message"], 500) if obs["messages_allowed"] else ""
        return "offer", float(np.asarray(action["price"]).item()), message
    decision = action["decision"]
    kept = (negotiation_rules.ACCEPT, negotiation_rules.OUTSIDE)
    verdict = decision if decision in kept else "reject"
    return verdict, 0.0, ""


NEGOTIATION_GAMES = [
    {},
    {"horizon": 6, "buyer_value_factor": 1.3, "messages": True},
    {"money": 100.0, "horizon": 30, "seller_value_factor": 0.8, "buyer_value_factor": 1.2},
    {"money": 1e6, "horizon": 5, "buyer_value_factor": 0.9, "complete_information": False},
    {"money": 0.37, "horizon": 9, "seller_value_factor": 7.0, "buyer_value_factor": 9.5},
]


@pytest.mark.parametrize("kwargs", NEGOTIATION_GAMES)
def test_negotiation_scripted_play_round_trips(kwargs: dict[str, Any]) -> None:
    game = negotiation.env(**kwargs)
    pairs = itertools.product(scripted_names("mercato/Negotiation-v0"), repeat=2)
    agents = (negotiation_rules.SELLER, negotiation_rules.BUYER)
    decisions, _ = play_pairs(game, pairs, agents, read_negotiation)
    assert min(decisions) >= 1


@pytest.mark.parametrize("kwargs", NEGOTIATION_GAMES)
def test_negotiation_random_play_round_trips(kwargs: dict[str, Any]) -> None:
    seen = random_messages(negotiation.env(**kwargs), read_negotiation)
    assert seen > 0 if kwargs.get("messages") else seen == 0


# Persuasion ------------------------------------------------------------------------------------


def read_persuasion(action: Any, obs: Any) -> tuple[Any, float, str]:
    """The recommendation or the purchase, with the message in text mode."""
    choice = action["recommend"] if "recommend_mask" in obs else action["decision"]
    message = normalize_text(action["message"], 500) if obs["text_messages"] else ""
    return int(choice), 0.0, message


PERSUASION_GAMES = [
    {"rounds": 6},
    {"rounds": 6, "message_type": "text"},
    {"rounds": 5, "message_type": "text", "buyer_memory": "myopic", "p_high": 0.3},
    {"rounds": 4, "complete_information": False, "value_high": 2.5, "money": 100.0},
]
SELLERS = ("persuasion/commitment", "persuasion/truthful")


@pytest.mark.parametrize("kwargs", PERSUASION_GAMES)
def test_persuasion_scripted_play_round_trips(kwargs: dict[str, Any]) -> None:
    game = persuasion.env(**kwargs)
    names = scripted_names("mercato/Persuasion-v0")
    buyers = [name for name in names if name not in SELLERS]
    assert set(SELLERS) < set(names) and buyers
    agents = (persuasion_rules.SELLER, persuasion_rules.BUYER)
    decisions, seen = play_pairs(game, itertools.product(SELLERS, buyers), agents, read_persuasion)
    assert set(decisions) == {2 * kwargs["rounds"]}
    assert seen > 0 if kwargs.get("message_type") == "text" else seen == 0


@pytest.mark.parametrize("kwargs", PERSUASION_GAMES)
def test_persuasion_random_play_round_trips(kwargs: dict[str, Any]) -> None:
    seen = random_messages(persuasion.env(**kwargs), read_persuasion)
    assert seen > 0 if kwargs.get("message_type") == "text" else seen == 0


# Formats ---------------------------------------------------------------------------------------


def first_observations(game: Any, first_action: Any) -> tuple[Any, Any]:
    """The first mover's observation, then the second's after ``first_action`` (copies)."""
    game.reset(seed=0)
    first = copy.deepcopy(game.last()[0])
    game.step(first_action)
    return first, copy.deepcopy(game.last()[0])


def test_bargaining_formats() -> None:
    game = bargaining.env(messages=True)
    protocol = protocol_of(game)
    offer = {"decision": 2, "alice_share": np.array([0.5]), "message": "  Fair?\n"}
    proposer, responder = first_observations(game, offer)
    assert protocol.describe(offer, proposer, bargaining_rules.ALICE) == (
        "OFFER alice=5000 bob=5000 MESSAGE: Fair?"
    )
    third = {**offer, "alice_share": np.array([1 / 3]), "message": ""}
    assert protocol.describe(third, proposer, bargaining_rules.ALICE) == (
        "OFFER alice=3333.33 bob=6666.67"
    )
    assert protocol.describe(offer, responder, bargaining_rules.BOB) == "REJECT"
    assert protocol.describe({**offer, "decision": 0}, responder, bargaining_rules.BOB) == "REJECT"
    assert protocol.describe({**offer, "decision": 1}, responder, bargaining_rules.BOB) == "ACCEPT"
    waiting = game.observe(bargaining_rules.ALICE)
    with pytest.raises(ValueError, match="not Alice's turn"):
        protocol.describe(offer, waiting, bargaining_rules.ALICE)
    too_much = {**offer, "alice_share": np.array([1.5])}
    with pytest.raises(ValueError, match="not a valid action"):
        protocol.describe(too_much, proposer, bargaining_rules.ALICE)


def test_negotiation_formats() -> None:
    game = negotiation.env(horizon=3, messages=True)
    protocol = protocol_of(game)
    offer = {"decision": 1, "price": np.array([9500.0]), "message": "Last price."}
    proposer, responder = first_observations(game, offer)
    assert protocol.describe(offer, proposer, negotiation_rules.SELLER) == (
        "OFFER 9500 MESSAGE: Last price."
    )
    odd = {**offer, "price": np.array([0.1 + 0.2]), "message": " "}
    assert protocol.describe(odd, proposer, negotiation_rules.SELLER) == "OFFER 0.30000000000000004"
    for decision, text in enumerate(["REJECT", "ACCEPT", "REJECT", "OUTSIDE"]):
        action = {**offer, "decision": decision}
        assert protocol.describe(action, responder, negotiation_rules.BUYER) == text
    with pytest.raises(ValueError, match="not a valid action"):
        protocol.describe({**offer, "price": np.array([1e9])}, proposer, negotiation_rules.SELLER)


def test_persuasion_formats() -> None:
    game = persuasion.env(message_type="text")
    protocol = protocol_of(game)
    recommend = {"recommend": 1, "message": "Great value!"}
    seller, buyer = first_observations(game, recommend)
    assert protocol.describe(recommend, seller, persuasion_rules.SELLER) == (
        "RECOMMEND YES MESSAGE: Great value!"
    )
    assert protocol.describe({"recommend": 0, "message": ""}, seller, persuasion_rules.SELLER) == (
        "RECOMMEND NO"
    )
    assert protocol.describe({"decision": 1, "message": ""}, buyer, persuasion_rules.BUYER) == "BUY"
    assert protocol.describe({"decision": 0, "message": "no"}, buyer, persuasion_rules.BUYER) == (
        "PASS MESSAGE: no"
    )
    waiting = game.observe(persuasion_rules.SELLER)
    with pytest.raises(ValueError, match="not the seller's turn"):
        protocol.describe(recommend, waiting, persuasion_rules.SELLER)


def test_binary_persuasion_writes_no_message() -> None:
    game = persuasion.env()
    recommend = {"recommend": 1, "message": "Great value!"}
    seller, _ = first_observations(game, recommend)
    assert protocol_of(game).describe(recommend, seller, persuasion_rules.SELLER) == "RECOMMEND YES"


@pytest.mark.parametrize(
    ("amount", "text"),
    [(9500.0, "9500"), (0.1, "0.1"), (-0.0, "0"), (1e22, "10000000000000000000000"),
     (1.5e-7, "0.00000015"), (1 / 3, "0.3333333333333333")],
)  # fmt: skip
def test_exact_amount_reads_back_exactly(amount: float, text: str) -> None:
    assert exact_amount(amount) == text
    assert float(text) == amount


@pytest.mark.parametrize(
    ("message", "carried"),
    [("Fair?", "Fair?"), ("  hi \n", "hi"), ('say "hi"', 'say "hi'), ("x '\u3000", "x"),
     ('"quoted', '"quoted'), ("cafe\u0301", "caf\u00e9"), (" \t", ""), ("abcdef", "abc")],
)  # fmt: skip
def test_reply_message_is_what_a_reply_carries(message: str, carried: str) -> None:
    assert reply_message(message, 3 if message == "abcdef" else 500) == carried


class Silent(TextProtocol):
    """A protocol that writes no actions as text (no `describe`)."""

    name = "silent"

    def instructions(self, agent: str) -> str:
        return ""

    def render(self, observation: Any, agent: str) -> str:
        return ""

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        raise ActionParseError("no")

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        return []


def test_protocols_without_describe_raise() -> None:
    with pytest.raises(NotImplementedError, match="silent: cannot write actions as text"):
        Silent().describe({}, {}, "player_0")
