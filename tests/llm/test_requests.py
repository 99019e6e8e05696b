"""Requests as typed objects or plain dicts, and one-line errors that name the bad field."""

from __future__ import annotations

import pytest

from sim.llm import ChooseRequest, GenerateRequest, InvalidRequestError
from sim.llm.fake import FakeModel
from sim.llm.types import as_choose_requests, as_generate_requests


def test_dicts_and_typed_requests_are_equivalent():
    typed = GenerateRequest(
        messages=({"role": "user", "content": "hi"},), max_tokens=5, stop=("x",)
    )
    from_dict = as_generate_requests(
        [{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stop": ["x"]}]
    )[0]
    assert typed == from_dict


def test_a_plain_string_is_one_user_message_and_stop_may_be_a_string():
    request = GenerateRequest(messages="hello", stop="END")
    assert request.messages == ({"role": "user", "content": "hello"},)
    assert request.stop == ("END",)


@pytest.mark.parametrize(
    ("request_dict", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"content": "x"}]}, "messages[0]"),
        ({"messages": "x", "max_tokens": 0}, "max_tokens"),
        ({"messages": "x", "temperature": -1}, "temperature"),
        ({"messages": "x", "temperature": float("nan")}, "temperature"),
        ({"messages": "x", "stop": [""]}, "stop"),
        ({"messages": "x", "seed": "7"}, "seed"),
        ({"messages": "x", "max_token": 3}, "unknown field"),
        ({"max_tokens": 3}, "messages"),
    ],
)
def test_bad_generate_requests_name_the_field(request_dict, field):
    with pytest.raises(InvalidRequestError) as info:
        as_generate_requests([request_dict])
    message = str(info.value)
    assert field in message
    assert "\n" not in message


def test_bad_choose_requests_name_the_field():
    with pytest.raises(InvalidRequestError, match="options"):
        as_choose_requests([{"messages": "x", "options": []}])
    with pytest.raises(InvalidRequestError, match="options"):
        ChooseRequest(messages="x", options=("a", ""))
    with pytest.raises(InvalidRequestError, match="expected ChooseRequest or a dict"):
        as_choose_requests(["not a request"])


def test_results_expose_text_and_index():
    model = FakeModel(responses=["OFFER 4"], choices=[1])
    assert model.generate([{"messages": "go"}])[0].text == "OFFER 4"
    choice = model.choose([{"messages": "go", "options": ["a", "b"]}])[0]
    assert (choice.index, choice.option) == (1, "b")


def test_an_empty_batch_costs_nothing():
    model = FakeModel()
    assert model.generate([]) == []
    assert model.choose([]) == []
    assert model.calls == []
