"""The negotiation text protocol: what players read, what replies parse to, and the errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from envs.core.protocol import ActionParseError, protocol_of
from envs.games.negotiation import env as make_env
from envs.games.negotiation import raw_env
from envs.games.negotiation_protocol import NegotiationProtocol
from envs.games.negotiation_rules import ACCEPT, BUYER, OFFER, OUTSIDE, REJECT, SELLER
from tests.envs.games.negotiation_episodes import REJECT_ACTION, offer

PROTOCOL = NegotiationProtocol()


def proposing(agent: str = SELLER, **params: Any) -> tuple[raw_env, dict[str, Any]]:
    """An env where ``agent`` is about to propose (the buyer after the seller's 1.3 times the
    money, 13,000 by default, was rejected)."""
    game = raw_env(**{"horizon": 10, **params})
    game.reset(seed=0)
    if agent == BUYER:
        game.step(offer(1.3 * game.money, "take it"))
        game.step(REJECT_ACTION)
    return game, game.observe(agent)


def responding(agent: str = BUYER, **params: Any) -> tuple[raw_env, dict[str, Any]]:
    """An env where ``agent`` responds to an offer of 1.1 times the money, 11,000 by default
    (with a message)."""
    game = raw_env(**{"horizon": 10, **params})
    game.reset(seed=0)
    if agent == SELLER:
        game.step(offer(1.3 * game.money))
        game.step(REJECT_ACTION)
    game.step(offer(1.1 * game.money, "fair enough?"))
    return game, game.observe(agent)


def same_action(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["decision"] == b["decision"]
        and a["message"] == b["message"]
        and a["price"].dtype == b["price"].dtype == np.float64
        and np.array_equal(a["price"], b["price"])
    )


def test_env_exposes_the_protocol() -> None:
    assert isinstance(protocol_of(make_env()), NegotiationProtocol)
    assert protocol_of(raw_env()) is raw_env.protocol
    assert protocol_of(raw_env(message_length=20)).message_length == 20
    assert protocol_of(raw_env(seller_value_factor=8.0)).price_cap == 160_000


@pytest.mark.parametrize(
    "reply",
    [
        "OFFER 9500",
        "offer $9,500",
        "Offer: 9500.00",
        "OFFER $ 9500.",
        "  `OFFER 9500`  ",
        "'offer 9,500.0'",
    ],
)
@pytest.mark.parametrize("agent", [SELLER, BUYER])
def test_offers_parse_to_a_price(reply: str, agent: str) -> None:
    game, observation = proposing(agent)
    action = PROTOCOL.parse(reply, observation, agent)
    assert action["decision"] == OFFER
    assert action["price"].tolist() == [9_500.0] and action["price"].dtype == np.float64
    assert action["message"] == ""
    assert game.action_space(agent).contains(action)


def test_cents_and_the_cap_are_accepted() -> None:
    _, observation = proposing(SELLER)
    assert PROTOCOL.parse("OFFER 0.5", observation, SELLER)["price"][0] == np.float64(0.5)
    assert PROTOCOL.parse("OFFER 0", observation, SELLER)["price"][0] == 0.0
    assert PROTOCOL.parse("OFFER 100,000", observation, SELLER)["price"][0] == 100_000


def test_messages_parse_when_allowed_and_are_dropped_otherwise() -> None:
    reply = "OFFER 9500 MESSAGE: Caf\u00e9 deal,\nfinal price?"
    _, observation = proposing(SELLER, messages=True)
    assert PROTOCOL.parse(reply, observation, SELLER)["message"] == "Café deal,\nfinal price?"
    _, silent = proposing(SELLER, messages=False)
    assert PROTOCOL.parse(reply, silent, SELLER)["message"] == ""


def test_long_messages_are_cut_to_the_envs_length() -> None:
    game, observation = proposing(SELLER, messages=True, message_length=10)
    action = protocol_of(game).parse("OFFER 9000 MESSAGE: " + "x" * 50, observation, SELLER)
    assert action["message"] == "x" * 10
    assert game.action_space(SELLER).contains(action)


@pytest.mark.parametrize(
    ("reply", "decision"),
    [
        ("ACCEPT", ACCEPT),
        ("accept.", ACCEPT),
        ("Reject!", REJECT),
        ("REJECT MESSAGE: no", REJECT),
        ("OUTSIDE", OUTSIDE),
        ("outside option", OUTSIDE),
        ("Walk away.", OUTSIDE),
    ],
)
def test_responses_parse(reply: str, decision: int) -> None:
    game, observation = responding(BUYER)
    action = PROTOCOL.parse(reply, observation, BUYER)
    assert action["decision"] == decision and action["message"] == ""
    assert game.action_space(BUYER).contains(action)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("OFFER 200000", "the price must be at most 100000, got 200000"),
        ("OFFER -5", "expected 'OFFER <price>' with a price from 0 to 100000, got 'OFFER -5'"),
        ("OFFER 95%", "expected 'OFFER <price>' with a price from 0 to 100000"),
        ("OFFER 9500 10000", "expected 'OFFER <price>'"),
        ("OFFER", "expected 'OFFER <price>'"),
        ("I would pay 9000", "expected 'OFFER <price>'"),
        ("ACCEPT", "there is no offer to respond to: you propose now; answer 'OFFER <price>'"),
        ("walk away", "there is no offer to respond to"),
    ],
)
def test_bad_offers_say_exactly_what_to_write(reply: str, error: str) -> None:
    _, observation = proposing(SELLER)
    with pytest.raises(ActionParseError, match=r"^[^\n]+$") as raised:
        PROTOCOL.parse(reply, observation, SELLER)
    assert error in str(raised.value)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("maybe", "expected 'ACCEPT', 'REJECT' or 'OUTSIDE', got 'maybe'"),
        ("OFFER 10000", "you are responding to the Seller's offer: answer 'ACCEPT', 'REJECT'"),
        ("accepted", "expected 'ACCEPT', 'REJECT' or 'OUTSIDE'"),
        ("outsider", "expected 'ACCEPT', 'REJECT' or 'OUTSIDE'"),
        ("x" * 200, "got '" + "x" * 80 + "...'"),
    ],
)
def test_bad_responses_say_exactly_what_to_write(reply: str, error: str) -> None:
    _, observation = responding(BUYER)
    with pytest.raises(ActionParseError, match=r"^[^\n]+$") as raised:
        PROTOCOL.parse(reply, observation, BUYER)
    assert error in str(raised.value)


def test_no_decision_when_it_is_not_your_turn() -> None:
    game, _ = proposing(SELLER)
    waiting = game.observe(BUYER)
    with pytest.raises(ActionParseError, match="not the Buyer's turn"):
        PROTOCOL.parse("ACCEPT", waiting, BUYER)
    assert PROTOCOL.valid_actions(waiting, BUYER) == []
    assert "It is the Seller's turn" in PROTOCOL.render(waiting, BUYER)


@pytest.mark.parametrize(
    ("situation", "agent"),
    [(proposing, SELLER), (proposing, BUYER), (responding, BUYER), (responding, SELLER)],
)
@pytest.mark.parametrize(
    "params",
    [
        {"money": 100.0},
        {"money": 10_000.0, "seller_value_factor": 1.2, "buyer_value_factor": 0.8},
        {"money": 1_234_567.0, "buyer_value_factor": 1.5, "messages": True},
        {"money": 0.07, "seller_value_factor": 8.0},
    ],
)
def test_every_valid_label_parses_back_to_its_action(
    situation: Any, agent: str, params: dict[str, Any]
) -> None:
    game, observation = situation(agent, **params)
    protocol = protocol_of(game)
    choices = protocol.valid_actions(observation, agent)
    assert choices
    assert len({choice.label for choice in choices}) == len(choices)
    for choice in choices:
        assert same_action(protocol.parse(choice.label, observation, agent), choice.action)
        assert game.action_space(agent).contains(choice.action)


def prices(choices: list[Any]) -> list[float]:
    return [float(choice.action["price"][0]) for choice in choices]


def test_valid_offers_start_at_the_own_value_then_gain_then_lose() -> None:
    _, seller = proposing(SELLER, seller_value_factor=1.2)
    assert prices(PROTOCOL.valid_actions(seller, SELLER)) == [
        12_000,
        *(13_000, 14_000, 15_000),
        *(11_000, 10_000, 9_000, 8_000, 7_000, 6_000, 5_000),
    ]
    _, buyer = proposing(BUYER, buyer_value_factor=0.85)
    assert prices(PROTOCOL.valid_actions(buyer, BUYER)) == [
        8_500,
        *(8_000, 7_000, 6_000, 5_000),
        *(9_000, 10_000, 11_000, 12_000, 13_000, 14_000, 15_000),
    ]
    _, responder = responding(BUYER)
    labels = [choice.label for choice in PROTOCOL.valid_actions(responder, BUYER)]
    assert labels == ["REJECT", "OUTSIDE", "ACCEPT"]


def test_safe_defaults_are_an_offer_at_cost_and_a_rejection() -> None:
    game, observation = proposing(BUYER, buyer_value_factor=1.5)
    default = PROTOCOL.safe_default(observation, BUYER)
    assert default["decision"] == OFFER and default["price"][0] == 15_000
    assert game.action_space(BUYER).contains(default)
    game, observation = responding(BUYER)
    default = PROTOCOL.safe_default(observation, BUYER)
    assert default["decision"] == REJECT
    assert game.action_space(BUYER).contains(default)


def test_render_under_complete_information_and_announced_horizon() -> None:
    _, observation = responding(BUYER, seller_value_factor=0.8, buyer_value_factor=1.5)
    text = PROTOCOL.render(observation, BUYER)
    assert "Round 1 of at most 10." in text
    assert "You are the Buyer; the Seller is the other player." in text
    assert "You value the good at $15,000." in text
    assert "The Seller values it at $8,000." in text
    assert "without a trade if the offer in round 10 is rejected" in text
    assert "The Seller offers to trade at $11,000." in text
    assert "If you accept, you trade at that price and gain $4,000." in text
    assert "If you reject, round 2 starts and you name a price." in text
    assert "you buy elsewhere at your own value" in text
    assert "Accept, reject or take the outside option." in text
    assert "OUTSIDE" not in text  # the answer format is in the instructions only


def test_render_shows_losses_and_the_last_round() -> None:
    _, observation = responding(BUYER, buyer_value_factor=0.8, horizon=1)
    text = PROTOCOL.render(observation, BUYER)
    assert "If you accept, you trade at that price and lose $3,000." in text
    assert "If you reject, the game ends without a trade" in text


def test_render_hides_what_the_player_does_not_know() -> None:
    _, observation = proposing(
        BUYER, seller_value_factor=0.8, complete_information=False, horizon=30
    )
    text = PROTOCOL.render(observation, BUYER)
    assert "You do not know the Seller's value of the good." in text
    assert "8,000" not in text
    assert "The number of rounds is not announced." in text
    assert "30" not in text
    assert "- Round 1: the Seller offered $13,000; you rejected it." in text
    assert "Name your price." in text and "OFFER" not in text
    assert "MESSAGE" not in text


def test_render_shows_messages() -> None:
    _, observation = responding(SELLER, messages=True)
    text = PROTOCOL.render(observation, SELLER)
    assert "The Buyer's message: 'fair enough?'" in text
    assert "- Round 1: you offered $13,000; the Buyer rejected it." in text
    assert "you sell elsewhere at your own value" in text
    _, observation = proposing(BUYER, messages=True)
    text = PROTOCOL.render(observation, BUYER)
    assert "The Seller's message: 'take it'" in text
    assert "You may add a message to the Seller." in text
    assert "MESSAGE" not in text
    assert "you offered" not in text  # the buyer has made no offer yet


def test_render_lists_every_earlier_round_with_its_message() -> None:
    game = raw_env(messages=True, horizon=10)
    game.reset(seed=0)
    for price, message in ((13_000.0, "top quality"), (9_000.0, ""), (12_000.0, "last price")):
        game.step(offer(price, message))
        game.step(REJECT_ACTION)
    text = PROTOCOL.render(game.observe(BUYER), BUYER)
    history = text.split("Earlier rounds:\n")[1].splitlines()[:3]
    assert history == [
        "- Round 1: the Seller offered $13,000; you rejected it. The Seller's message: "
        "'top quality'",
        "- Round 2: you offered $9,000; the Seller rejected it.",
        "- Round 3: the Seller offered $12,000; you rejected it. The Seller's message: "
        "'last price'",
    ]
    text = PROTOCOL.render(game.observe(SELLER), SELLER)
    assert "- Round 1: you offered $13,000; the Buyer rejected it. Your message: 'top" in text
    assert "- Round 2: the Buyer offered $9,000; you rejected it." in text


def test_instructions_per_role() -> None:
    for agent, me, other in ((SELLER, "Seller", "Buyer"), (BUYER, "Buyer", "Seller")):
        text = PROTOCOL.instructions(agent)
        assert text.startswith(f"You are the {me}, negotiating with the {other}")
        assert "'OFFER <price>'" in text and "'ACCEPT', 'REJECT' or 'OUTSIDE'" in text
    with pytest.raises(ValueError, match="unknown agent"):
        PROTOCOL.instructions("carol_0")
