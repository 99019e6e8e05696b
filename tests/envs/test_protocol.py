"""The ultimatum text protocol: parses what players write, says precisely what is wrong."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from envs.core.protocol import ActionParseError, action_mask_of
from tests.envs_fixtures.ultimatum import ACCEPT, PROPOSER, REJECT, RESPONDER, env
from tests.envs_fixtures.ultimatum_protocol import UltimatumProtocol

PROTOCOL = UltimatumProtocol()


def observations() -> dict[str, Any]:
    """Each role's observation at its turn in a real game."""
    game = env()
    game.reset(seed=0)
    proposer_obs = game.last()[0]
    game.step({"offer": 3, "message": "take it or leave it"})
    return {PROPOSER: proposer_obs, RESPONDER: game.last()[0]}


OBS = observations()


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("OFFER 4", {"offer": 4, "message": ""}),
        ("offer 0", {"offer": 0, "message": ""}),
        ("  Offer 10  ", {"offer": 10, "message": ""}),
        ("OFFER 7 MESSAGE: a fair split?", {"offer": 7, "message": "a fair split?"}),
        ("offer 2\nmessage: $80, deal?\ncafe\u0301", {"offer": 2, "message": "$80, deal?\ncafé"}),
    ],
)
def test_proposer_replies_parse(text: str, action: dict[str, Any]) -> None:
    assert PROTOCOL.parse(text, OBS[PROPOSER], PROPOSER) == action


def test_proposer_message_is_cut_to_the_space_length() -> None:
    action = PROTOCOL.parse("OFFER 1 MESSAGE: " + "x" * 500, OBS[PROPOSER], PROPOSER)
    assert action["message"] == "x" * 200


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("hello", "expected 'OFFER <n>' with n an integer 0-10, got 'hello'"),
        ("OFFER five", "expected 'OFFER <n>' with n an integer 0-10, got 'OFFER five'"),
        ("OFFER 5 please", "expected 'OFFER <n>' with n an integer 0-10, got 'OFFER 5 please'"),
        ("OFFER 1_0", "expected 'OFFER <n>' with n an integer 0-10, got 'OFFER 1_0'"),
        ("", "expected 'OFFER <n>' with n an integer 0-10, got ''"),
        ("OFFER 11", "offer must be an integer 0-10, got 11"),
        ("OFFER -1", "offer must be an integer 0-10, got -1"),
    ],
)
def test_proposer_errors_are_precise(text: str, error: str) -> None:
    with pytest.raises(ActionParseError) as caught:
        PROTOCOL.parse(text, OBS[PROPOSER], PROPOSER)
    assert str(caught.value) == error


def test_long_bad_replies_are_echoed_shortened() -> None:
    with pytest.raises(ActionParseError) as caught:
        PROTOCOL.parse("blah " * 100, OBS[PROPOSER], PROPOSER)
    assert len(str(caught.value)) < 150
    assert str(caught.value).endswith("...'")


@pytest.mark.parametrize(
    ("text", "action"),
    [("ACCEPT", ACCEPT), ("accept", ACCEPT), (" Reject. ", REJECT), ("REJECT!", REJECT)],
)
def test_responder_replies_parse(text: str, action: int) -> None:
    assert PROTOCOL.parse(text, OBS[RESPONDER], RESPONDER) == action


def test_responder_errors_are_precise() -> None:
    with pytest.raises(ActionParseError, match=r"^expected 'ACCEPT' or 'REJECT', got 'maybe'$"):
        PROTOCOL.parse("maybe", OBS[RESPONDER], RESPONDER)


def test_responder_mask_is_respected() -> None:
    only_reject = {**OBS[RESPONDER], "action_mask": np.array([1, 0], dtype=np.int8)}
    with pytest.raises(ActionParseError, match="ACCEPT is not allowed now"):
        PROTOCOL.parse("accept", only_reject, RESPONDER)
    assert [a.label for a in PROTOCOL.valid_actions(only_reject, RESPONDER)] == ["REJECT"]


def test_valid_actions_order_and_coverage() -> None:
    assert [a.label for a in PROTOCOL.valid_actions(OBS[RESPONDER], RESPONDER)] == [
        "REJECT",
        "ACCEPT",
    ]
    proposer_actions = PROTOCOL.valid_actions(OBS[PROPOSER], PROPOSER)
    assert [a.action["offer"] for a in proposer_actions] == list(range(11))


@pytest.mark.parametrize("agent", [PROPOSER, RESPONDER])
def test_every_valid_label_parses_to_its_action_in_the_space(agent: str) -> None:
    space = env().action_space(agent)
    for choice in PROTOCOL.valid_actions(OBS[agent], agent):
        assert PROTOCOL.parse(choice.label, OBS[agent], agent) == choice.action
        assert space.contains(choice.action)


def test_safe_defaults() -> None:
    assert PROTOCOL.safe_default(OBS[PROPOSER], PROPOSER) == {"offer": 5, "message": ""}
    assert PROTOCOL.safe_default(OBS[RESPONDER], RESPONDER) == REJECT


def test_render_and_instructions_say_what_to_do() -> None:
    text = PROTOCOL.render(OBS[RESPONDER], RESPONDER)
    pie = float(OBS[RESPONDER]["pie"][0])
    assert f"worth {pie:g}" in text and "3/10" in text
    assert "'take it or leave it'" in text
    assert "ACCEPT or REJECT" in text
    assert "OFFER <n>" in PROTOCOL.instructions(PROPOSER)
    assert "'ACCEPT' or 'REJECT'" in PROTOCOL.instructions(RESPONDER)


def test_unknown_agent_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="buyer_0"):
        PROTOCOL.instructions("buyer_0")


def test_action_mask_of_prefers_observation_then_info() -> None:
    in_obs, in_info = np.array([1, 0], np.int8), np.array([0, 1], np.int8)
    assert action_mask_of({"action_mask": in_obs}, {"action_mask": in_info}) is in_obs
    assert action_mask_of({"pie": 1}, {"action_mask": in_info}) is in_info
    assert action_mask_of(np.zeros(3)) is None
    assert action_mask_of({"pie": 1}, {}) is None


def test_a_valid_first_line_followed_by_an_explanation_parses_leniently() -> None:
    # the explanation becomes the message of an action that has an empty one
    reply = "OFFER 4\nI think this is fair: you get forty percent."
    assert PROTOCOL.parse_reply(reply, OBS[PROPOSER], PROPOSER) == {
        "offer": 4,
        "message": "I think this is fair: you get forty percent.",
    }
    assert PROTOCOL.parse_reply("ACCEPT\nA fair offer.", OBS[RESPONDER], RESPONDER) == ACCEPT
    # a message the reply gave stays; one line is parsed strictly
    assert PROTOCOL.parse_reply("OFFER 4 MESSAGE: hi\nbecause", OBS[PROPOSER], PROPOSER) == {
        "offer": 4,
        "message": "hi\nbecause",
    }
    with pytest.raises(ActionParseError) as strict:
        PROTOCOL.parse_reply("Sure, ACCEPT", OBS[RESPONDER], RESPONDER)
    # when the first line is no answer either, the error is the whole reply's
    with pytest.raises(ActionParseError) as whole:
        PROTOCOL.parse_reply("Let me think.\nMaybe ACCEPT", OBS[RESPONDER], RESPONDER)
    with pytest.raises(ActionParseError) as direct:
        PROTOCOL.parse("Let me think.\nMaybe ACCEPT", OBS[RESPONDER], RESPONDER)
    assert str(whole.value) == str(direct.value) and str(strict.value)
