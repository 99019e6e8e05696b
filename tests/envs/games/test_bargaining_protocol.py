"""The bargaining text protocol: what players read, what replies parse to, and the errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from envs.core.protocol import ActionParseError, protocol_of
from envs.games.bargaining import env as make_env
from envs.games.bargaining import raw_env
from envs.games.bargaining_protocol import BargainingProtocol
from envs.games.bargaining_rules import ACCEPT, ALICE, BOB, OFFER, REJECT
from tests.envs.games.episodes import REJECT_ACTION, offer

PROTOCOL = BargainingProtocol()


def proposing(agent: str = ALICE, **params: Any) -> tuple[raw_env, dict[str, Any]]:
    """An env where ``agent`` is about to propose (Bob after Alice's 0.7 was rejected)."""
    game = raw_env(**params)
    game.reset(seed=0)
    if agent == BOB:
        game.step(offer(0.7, "take it"))
        game.step(REJECT_ACTION)
    return game, game.observe(agent)


def responding(agent: str = BOB, **params: Any) -> tuple[raw_env, dict[str, Any]]:
    """An env where ``agent`` responds to an offer of Alice 60% (with a message)."""
    game = raw_env(**params)
    game.reset(seed=0)
    if agent == ALICE:
        game.step(offer(0.5))
        game.step(REJECT_ACTION)
    game.step(offer(0.6, "fair enough?"))
    return game, game.observe(agent)


def same_action(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["decision"] == b["decision"]
        and a["message"] == b["message"]
        and a["alice_share"].dtype == b["alice_share"].dtype == np.float64
        and np.array_equal(a["alice_share"], b["alice_share"])
    )


def test_env_exposes_the_protocol() -> None:
    assert isinstance(protocol_of(make_env()), BargainingProtocol)
    assert protocol_of(raw_env(message_length=20)).message_length == 20


@pytest.mark.parametrize(
    "reply",
    [
        "OFFER alice=6000 bob=4000",
        "offer Alice=$6,000 Bob=$4,000",
        "OFFER bob=4000 alice=6000",
        "Offer: alice: 6000.00, bob: 4000",
        "OFFER 6000 4000",
        "OFFER $6,000 / $4,000.",
        "OFFER $6,000, $4,000",
        "OFFER 6000,4000",
        "  `OFFER 6000 4000`  ",
        "OFFER alice=5999.995 bob=4000",  # within a cent of the total
    ],
)
def test_offers_parse_to_alices_share(reply: str) -> None:
    game, observation = proposing(ALICE)
    action = PROTOCOL.parse(reply.rstrip("."), observation, ALICE)
    assert action["decision"] == OFFER
    assert action["alice_share"] == pytest.approx([0.6], abs=1e-6)
    assert action["message"] == ""
    assert game.action_space(ALICE).contains(action)


def test_bobs_offer_is_still_alices_share() -> None:
    _, observation = proposing(BOB)
    action = PROTOCOL.parse("OFFER alice=2500 bob=7500", observation, BOB)
    assert action["alice_share"] == pytest.approx([0.25])


def test_messages_parse_when_allowed_and_are_dropped_otherwise() -> None:
    reply = "OFFER alice=6000 bob=4000 MESSAGE: Caf\u00e9 deal,\nsplit 60/40?"
    _, observation = proposing(ALICE, messages=True)
    assert PROTOCOL.parse(reply, observation, ALICE)["message"] == "Café deal,\nsplit 60/40?"
    _, silent = proposing(ALICE, messages=False)
    assert PROTOCOL.parse(reply, silent, ALICE)["message"] == ""


def test_long_messages_are_cut_to_the_envs_length() -> None:
    game, observation = proposing(ALICE, messages=True, message_length=10)
    action = protocol_of(game).parse("OFFER 6000 4000 MESSAGE: " + "x" * 50, observation, ALICE)
    assert action["message"] == "x" * 10
    assert game.action_space(ALICE).contains(action)


@pytest.mark.parametrize(
    ("reply", "decision"),
    [("ACCEPT", ACCEPT), ("accept.", ACCEPT), ("Reject!", REJECT), ("REJECT MESSAGE: no", REJECT)],
)
def test_responses_parse(reply: str, decision: int) -> None:
    game, observation = responding(BOB)
    action = PROTOCOL.parse(reply, observation, BOB)
    assert action["decision"] == decision and action["message"] == ""
    assert game.action_space(BOB).contains(action)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("OFFER alice=6000 bob=5000", "must sum to 10000: alice=6000 + bob=5000 = 11000"),
        ("OFFER alice=60% bob=40%", "expected 'OFFER alice=<amount> bob=<amount>'"),
        ("I offer 6000 to me", "expected 'OFFER alice=<amount> bob=<amount>'"),
        ("OFFER alice=-1 bob=10001", "expected 'OFFER alice=<amount> bob=<amount>'"),
        ("OFFER 6000", "with amounts summing to 10000, got 'OFFER 6000'"),
        ("ACCEPT", "there is no offer to accept or reject: you propose now"),
    ],
)
def test_bad_offers_say_exactly_what_to_write(reply: str, error: str) -> None:
    _, observation = proposing(ALICE)
    with pytest.raises(ActionParseError, match=r"^[^\n]+$") as raised:
        PROTOCOL.parse(reply, observation, ALICE)
    assert error in str(raised.value)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("maybe", "expected 'ACCEPT' or 'REJECT', got 'maybe'"),
        ("OFFER 5000 5000", "you are responding to Alice's offer: answer 'ACCEPT' or 'REJECT'"),
        ("accepted", "expected 'ACCEPT' or 'REJECT'"),
    ],
)
def test_bad_responses_say_exactly_what_to_write(reply: str, error: str) -> None:
    _, observation = responding(BOB)
    with pytest.raises(ActionParseError, match=r"^[^\n]+$") as raised:
        PROTOCOL.parse(reply, observation, BOB)
    assert error in str(raised.value)


def test_no_decision_when_it_is_not_your_turn() -> None:
    game, _ = proposing(ALICE)
    waiting = game.observe(BOB)
    with pytest.raises(ActionParseError, match="not Bob's turn"):
        PROTOCOL.parse("ACCEPT", waiting, BOB)
    assert PROTOCOL.valid_actions(waiting, BOB) == []


@pytest.mark.parametrize(
    ("situation", "agent"),
    [(proposing, ALICE), (proposing, BOB), (responding, BOB), (responding, ALICE)],
)
@pytest.mark.parametrize("money", [100.0, 10_000.0, 1_234_567.0])
def test_every_valid_label_parses_back_to_its_action(
    situation: Any, agent: str, money: float
) -> None:
    game, observation = situation(agent, money=money)
    choices = PROTOCOL.valid_actions(observation, agent)
    assert choices
    for choice in choices:
        assert same_action(PROTOCOL.parse(choice.label, observation, agent), choice.action)
        assert game.action_space(agent).contains(choice.action)


def test_valid_offers_are_tenths_least_demanding_first() -> None:
    _, alice = proposing(ALICE)
    shares = [float(c.action["alice_share"][0]) for c in PROTOCOL.valid_actions(alice, ALICE)]
    assert shares == pytest.approx([k / 10 for k in range(11)])
    _, bob = proposing(BOB)
    shares = [float(c.action["alice_share"][0]) for c in PROTOCOL.valid_actions(bob, BOB)]
    assert shares == pytest.approx([1 - k / 10 for k in range(11)])
    _, responder = responding(BOB)
    assert [c.label for c in PROTOCOL.valid_actions(responder, BOB)] == ["REJECT", "ACCEPT"]


def test_safe_defaults_are_an_even_split_and_a_rejection() -> None:
    game, observation = proposing(ALICE)
    default = PROTOCOL.safe_default(observation, ALICE)
    assert default["decision"] == OFFER and default["alice_share"][0] == 0.5
    assert game.action_space(ALICE).contains(default)
    game, observation = responding(BOB)
    default = PROTOCOL.safe_default(observation, BOB)
    assert default["decision"] == REJECT
    assert game.action_space(BOB).contains(default)


def test_render_under_complete_information_and_announced_horizon() -> None:
    _, observation = responding(BOB, discount_alice=0.8, discount_bob=0.95, horizon=12)
    text = PROTOCOL.render(observation, BOB)
    assert "Round 1 of at most 12." in text
    assert "The sum to split is $10,000." in text
    assert "Your discount factor is 0.95" in text
    assert "Alice's discount factor is 0.8: each round of waiting multiplies" in text
    assert "no deal if the offer in round 12 is rejected" in text
    assert "Alice offers: Alice $6,000, Bob $4,000." in text
    assert "If you accept, you get $4,000, worth $4,000 to you now." in text
    assert "Accept or reject this offer." in text
    assert "ACCEPT" not in text  # the answer format is in the instructions only


def test_render_says_when_waiting_costs_nothing() -> None:
    _, observation = responding(BOB, discount_alice=1.0, discount_bob=1.0)
    text = PROTOCOL.render(observation, BOB)
    assert "Your discount factor is 1: " in text and "waiting costs you nothing" in text
    assert "Alice's discount factor is 1: waiting costs Alice nothing." in text


def test_render_hides_what_the_player_does_not_know() -> None:
    _, observation = proposing(
        BOB, discount_alice=0.8, discount_bob=0.95, complete_information=False
    )
    text = PROTOCOL.render(observation, BOB)
    assert "You do not know Alice's discount factor." in text
    assert "0.8" not in text
    assert "The number of rounds is not announced." in text
    assert "99" not in text
    assert "- Round 1: Alice offered Alice $7,000, Bob $3,000; you rejected it." in text
    assert "worth 95.0% of its face value" in text  # round 2: one period of delay
    assert "MESSAGE" not in text


def test_render_shows_messages_and_the_last_round() -> None:
    _, observation = responding(ALICE, horizon=2, messages=True)
    text = PROTOCOL.render(observation, ALICE)
    assert "Bob's message: 'fair enough?'" in text
    assert "If you reject, the game ends with no deal" in text
    _, observation = proposing(BOB, messages=True)
    text = PROTOCOL.render(observation, BOB)
    assert "Alice's message: 'take it'" in text
    assert "You may add a message to Alice." in text
    assert "MESSAGE" not in text


def test_render_lists_every_earlier_round_with_its_message() -> None:
    game = raw_env(messages=True, horizon=12)
    game.reset(seed=0)
    for share, message in ((0.7, "take it"), (0.4, ""), (0.6, "last chance")):
        game.step(offer(share, message))
        game.step(REJECT_ACTION)
    text = PROTOCOL.render(game.observe(BOB), BOB)
    assert "Round 4 of at most 12." in text
    history = text.split("Earlier rounds:\n")[1].splitlines()[:3]
    assert history == [
        "- Round 1: Alice offered Alice $7,000, Bob $3,000; you rejected it. Alice's message: "
        "'take it'",
        "- Round 2: you offered Alice $4,000, Bob $6,000; Alice rejected it.",
        "- Round 3: Alice offered Alice $6,000, Bob $4,000; you rejected it. Alice's message: "
        "'last chance'",
    ]
    assert "Your message" not in text
    game.step(offer(0.3, "my turn"))
    game.step(REJECT_ACTION)
    text = PROTOCOL.render(game.observe(ALICE), ALICE)
    assert "- Round 4: Bob offered Alice $3,000, Bob $7,000; you rejected it." in text
    assert "- Round 1: you offered Alice $7,000, Bob $3,000; Bob rejected it. Your message" in text


def test_render_lists_only_the_latest_rounds_of_a_long_game() -> None:
    game = raw_env(horizon=99)
    game.reset(seed=0)
    for _ in range(25):
        game.step(offer(0.5))
        game.step(REJECT_ACTION)
    text = PROTOCOL.render(game.observe(ALICE), ALICE)
    assert "Earlier rounds (the last 20 of 25):" in text
    assert "- Round 5:" not in text and "- Round 6:" in text and "- Round 25:" in text


def test_instructions_per_role() -> None:
    for agent, me, other in ((ALICE, "Alice", "Bob"), (BOB, "Bob", "Alice")):
        text = PROTOCOL.instructions(agent)
        assert text.startswith(f"You are {me}, bargaining with {other}")
        assert "OFFER alice=<amount> bob=<amount>" in text and "'ACCEPT' or 'REJECT'" in text
    with pytest.raises(ValueError, match="unknown agent"):
        PROTOCOL.instructions("carol_0")
