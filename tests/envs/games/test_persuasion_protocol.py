"""The persuasion text protocol: what players read, what replies parse to, and the errors."""

from __future__ import annotations

from typing import Any

import pytest

from envs.core.protocol import ActionParseError, protocol_of
from envs.games.persuasion import env as make_env
from envs.games.persuasion import raw_env
from envs.games.persuasion_protocol import PersuasionProtocol
from envs.games.persuasion_rules import BUYER, NO, SELLER, YES
from tests.envs.games.persuasion_episodes import decide, recommend

PROTOCOL = PersuasionProtocol()


def recommending(**params: Any) -> tuple[raw_env, dict[str, Any]]:
    """An env where the seller is about to recommend in round 1 (seed 0: low quality)."""
    game = raw_env(**params)
    game.reset(seed=0)
    return game, game.observe(SELLER)


def deciding(rounds_before: int = 0, **params: Any) -> tuple[raw_env, dict[str, Any]]:
    """An env where the buyer decides after ``rounds_before`` rounds of recommend-and-buy, on
    a recommendation with a message (seed 0: low, high, high, high, low, low)."""
    game = raw_env(**params)
    game.reset(seed=0)
    for _ in range(rounds_before):
        game.step(recommend(YES))
        game.step(decide(YES, "ok"))
    game.step(recommend(YES, "Top quality!"))
    return game, game.observe(BUYER)


def test_env_exposes_the_protocol() -> None:
    assert isinstance(protocol_of(make_env()), PersuasionProtocol)
    assert protocol_of(raw_env(message_length=20)).message_length == 20


@pytest.mark.parametrize(
    ("reply", "choice"),
    [
        ("RECOMMEND YES", YES),
        ("recommend no", NO),
        ("Recommend: Yes.", YES),
        ("  `RECOMMEND NO`  ", NO),
        ("yes", YES),
        ("NO!", NO),
        ("Recommendation: yes", YES),
    ],
)
def test_recommendations_parse(reply: str, choice: int) -> None:
    game, observation = recommending()
    action = PROTOCOL.parse(reply, observation, SELLER)
    assert action == {"recommend": choice, "message": ""}
    assert game.action_space(SELLER).contains(action)


def test_text_mode_keeps_the_sellers_message_and_binary_mode_drops_it() -> None:
    reply = "RECOMMEND YES MESSAGE: Caf\u00e9-grade quality,\nbuy it!"
    _, observation = recommending(message_type="text")
    action = PROTOCOL.parse(reply, observation, SELLER)
    assert action == {"recommend": YES, "message": "Café-grade quality,\nbuy it!"}
    _, binary = recommending()
    assert PROTOCOL.parse(reply, binary, SELLER) == {"recommend": YES, "message": ""}


def test_long_messages_are_cut_to_the_envs_length() -> None:
    game, observation = recommending(message_type="text", message_length=10)
    action = protocol_of(game).parse("RECOMMEND NO MESSAGE: " + "x" * 50, observation, SELLER)
    assert action["message"] == "x" * 10
    assert game.action_space(SELLER).contains(action)


@pytest.mark.parametrize(
    ("reply", "choice", "message"),
    [
        ("BUY", YES, ""),
        ("pass", NO, ""),
        ("Buy.", YES, ""),
        ("yes", YES, ""),
        ("No", NO, ""),
        ("PASS MESSAGE: not convinced", NO, "not convinced"),
    ],
)
def test_decisions_parse(reply: str, choice: int, message: str) -> None:
    game, observation = deciding(message_type="text")
    action = PROTOCOL.parse(reply, observation, BUYER)
    assert action == {"decision": choice, "message": message}
    assert game.action_space(BUYER).contains(action)


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        ("maybe", "expected 'RECOMMEND YES' or 'RECOMMEND NO', got 'maybe'", False),
        ("RECOMMEND", "expected 'RECOMMEND YES' or 'RECOMMEND NO'", False),
        ("MESSAGE: buy it", "optionally followed by 'MESSAGE: <text>', got", True),
        ("RECOMMEND YESS", "got 'RECOMMEND YESS'", False),
        ("BUY", "you are the seller, the buyer buys or passes", False),
    ],
)
def test_bad_recommendations_say_exactly_what_to_write(reply: str, error: str, text: bool) -> None:
    _, observation = recommending(message_type="text" if text else "binary")
    with pytest.raises(ActionParseError, match=r"^[^\n]+$") as raised:
        PROTOCOL.parse(reply, observation, SELLER)
    assert error in str(raised.value)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("maybe later", "expected 'BUY' or 'PASS', got 'maybe later'"),
        ("RECOMMEND YES", "you are the buyer, the seller recommends: answer 'BUY' or 'PASS'"),
        ("bought", "expected 'BUY' or 'PASS'"),
        ("x" * 200, "..."),
    ],
)
def test_bad_decisions_say_exactly_what_to_write(reply: str, error: str) -> None:
    _, observation = deciding()
    with pytest.raises(ActionParseError, match=r"^[^\n]+$") as raised:
        PROTOCOL.parse(reply, observation, BUYER)
    assert error in str(raised.value)


def test_no_decision_when_it_is_not_your_turn() -> None:
    game, _ = recommending()
    waiting = game.observe(BUYER)
    with pytest.raises(ActionParseError, match="not the buyer's turn"):
        PROTOCOL.parse("BUY", waiting, BUYER)
    assert PROTOCOL.valid_actions(waiting, BUYER) == []
    game, _ = deciding()
    with pytest.raises(ActionParseError, match="not the seller's turn"):
        PROTOCOL.parse("RECOMMEND YES", game.observe(SELLER), SELLER)
    assert PROTOCOL.valid_actions(game.observe(SELLER), SELLER) == []


@pytest.mark.parametrize("message_type", ["binary", "text"])
@pytest.mark.parametrize("situation", [recommending, deciding])
def test_every_valid_label_parses_back_to_its_action(situation: Any, message_type: str) -> None:
    game, observation = situation(message_type=message_type)
    agent = SELLER if situation is recommending else BUYER
    choices = PROTOCOL.valid_actions(observation, agent)
    assert len(choices) == 2
    for choice in choices:
        assert PROTOCOL.parse(choice.label, observation, agent) == choice.action
        assert game.action_space(agent).contains(choice.action)


def test_valid_actions_are_most_conservative_first() -> None:
    _, seller = recommending()
    assert [c.label for c in PROTOCOL.valid_actions(seller, SELLER)] == [
        "RECOMMEND NO",
        "RECOMMEND YES",
    ]
    _, buyer = deciding()
    assert [c.label for c in PROTOCOL.valid_actions(buyer, BUYER)] == ["PASS", "BUY"]


def test_safe_defaults_are_the_truth_and_a_pass() -> None:
    game, observation = recommending()  # round 1 is low quality
    assert PROTOCOL.safe_default(observation, SELLER) == {"recommend": NO, "message": ""}
    game.step(recommend(NO))
    game.step(decide(NO))  # round 2 is high quality
    high = game.observe(SELLER)
    assert PROTOCOL.safe_default(high, SELLER) == {"recommend": YES, "message": ""}
    game, observation = deciding()
    default = PROTOCOL.safe_default(observation, BUYER)
    assert default == {"decision": NO, "message": ""}
    assert game.action_space(BUYER).contains(default)


def test_seller_render_with_complete_information() -> None:
    game, observation = recommending(p_high=0.8, value_high=2.0, message_type="text", rounds=6)
    text = PROTOCOL.render(observation, SELLER)
    assert "Round 1 of 6." in text
    assert "The price is $10,000. Each product is of high quality with probability 80.0%." in text
    assert "To the buyer, a high-quality product is worth $20,000 and a low-quality one $0." in text
    assert f"This round's product is of {'HIGH' if observation['quality_high'] else 'LOW'}" in text
    assert "Recommend it or not. You may add a message to the buyer." in text
    assert "RECOMMEND" not in text  # the answer format is in the instructions only
    quality = "high" if observation["quality_high"] else "low"  # round 1's, before it is played
    game.step(recommend(YES))
    game.step(decide(YES, "more please"))
    text = PROTOCOL.render(game.observe(SELLER), SELLER)
    assert "The buyer is the same every round and sees every earlier round's" in text
    assert "So far the buyer bought 1 product, " in text
    assert f"- Round 1: {quality} quality, you recommended it, the buyer bought." in text
    assert "The buyer's last message: 'more please'" in text


def test_the_seller_of_myopic_buyers_reads_every_round_and_their_kind() -> None:
    """GLEE's seller keeps one chat for the whole game, whichever the buyer, and is told that
    its buyers are new each round and see only its sales record."""
    game, _ = recommending(buyer_memory="myopic", rounds=6)
    for decision in (YES, NO):
        game.step(recommend(YES))
        game.step(decide(decision))
    text = PROTOCOL.render(game.observe(SELLER), SELLER)
    assert "Each round a new buyer comes, who sees only how many products were sold" in text
    assert "So far the buyers bought 1 product, 0 of them of high quality." in text
    assert "- Round 1: low quality, you recommended it, the buyer bought." in text
    assert "- Round 2: high quality, you recommended it, the buyer passed." in text


@pytest.mark.parametrize("known", [True, False])
def test_the_buyer_is_told_whether_the_seller_knows_its_values(known: bool) -> None:
    _, observation = deciding(complete_information=known)
    text = PROTOCOL.render(observation, BUYER)
    knows = "knows" if known else "does not know"
    assert f"The seller {knows} how much each product is worth to you." in text


def test_seller_render_hides_the_unknown_value() -> None:
    _, observation = recommending(value_high=3.0, complete_information=False)
    text = PROTOCOL.render(observation, SELLER)
    assert "You do not know how much the buyer values a high-quality product" in text
    assert "30,000" not in text
    assert "MESSAGE" not in text


def test_long_lived_buyer_reads_the_history() -> None:
    _, observation = deciding(rounds_before=2, message_type="text", rounds=6)
    text = PROTOCOL.render(observation, BUYER)
    assert "Round 3 of 6." in text
    assert "To you, a high-quality product is worth $12,500 and a low-quality one $0." in text
    assert "So far you bought 2 products, 1 of them of high quality." in text
    assert "- Round 1: recommended, you bought, low quality." in text
    assert "- Round 2: recommended, you bought, high quality." in text
    assert "The seller recommends buying this round's product." in text
    assert "The seller's message: 'Top quality!'" in text
    assert "Buy it or not. You may add a message to the seller." in text
    assert "PASS" not in text  # the answer format is in the instructions only


def test_myopic_buyer_reads_only_the_counts() -> None:
    _, observation = deciding(rounds_before=2, buyer_memory="myopic", rounds=6)
    text = PROTOCOL.render(observation, BUYER)
    assert "you are this round's. So far buyers bought 2 products, 1 of them of high" in text
    assert "- Round" not in text
    assert "Top quality" not in text and "MESSAGE" not in text  # binary mode


def test_long_histories_show_the_latest_rounds() -> None:
    _, observation = deciding(rounds_before=25, rounds=30)
    text = PROTOCOL.render(observation, BUYER)
    assert "Earlier rounds (the last 20 of 25):" in text
    assert "- Round 5:" not in text and "- Round 6:" in text and "- Round 25:" in text


def test_instructions_per_role() -> None:
    seller = PROTOCOL.instructions(SELLER)
    assert seller.startswith("You are the seller") and "'RECOMMEND YES' or 'RECOMMEND NO'" in seller
    buyer = PROTOCOL.instructions(BUYER)
    assert buyer.startswith("You are the buyer") and "'BUY' or 'PASS'" in buyer
    with pytest.raises(ValueError, match="unknown agent"):
        PROTOCOL.instructions("carol_0")
