"""The fake backend: deterministic, seeded, scriptable."""

from __future__ import annotations

import json

import pytest

from sim.llm import InvalidRequestError, TransientLLMError
from sim.llm.fake import FakeModel

REQUEST = {"messages": "What is your offer?", "max_tokens": 16}


def test_unscripted_replies_depend_only_on_request_and_seed():
    first = FakeModel(seed=1).generate([REQUEST, {**REQUEST, "seed": 5}])
    again = FakeModel(seed=1).generate([{**REQUEST, "seed": 5}, REQUEST])
    assert first[0].text == again[1].text and first[1].text == again[0].text
    other_seed = FakeModel(seed=2).generate([REQUEST])
    assert other_seed[0].text != first[0].text
    assert first[0].text  # non-empty


def test_list_script_replays_in_order_and_cycles():
    model = FakeModel(responses=["a", "b"])
    texts = [c.text for c in model.generate([REQUEST] * 3)]
    assert texts == ["a", "b", "a"]


def test_dict_script_matches_last_message_with_default():
    model = FakeModel(responses={"offer": "OFFER 5", "*": "REJECT"})
    texts = [c.text for c in model.generate([REQUEST, {"messages": "Respond now"}])]
    assert texts == ["OFFER 5", "REJECT"]
    with pytest.raises(InvalidRequestError, match="no scripted response"):
        FakeModel(responses={"zzz": "x"}).generate([REQUEST])


def test_callable_script_and_stop_and_length():
    model = FakeModel(responses=lambda r: "one two three STOP four")
    out = model.generate([{**REQUEST, "stop": ["STOP"]}, {**REQUEST, "max_tokens": 2}])
    assert out[0].text == "one two three " and out[0].finish_reason == "stop"
    assert out[1].text == "one two" and out[1].finish_reason == "length"
    assert out[1].usage.completion_tokens == 2


def test_choose_is_seeded_or_scripted_and_always_valid():
    options = ["accept", "reject", "counter"]
    model = FakeModel(seed=3)
    picks = [
        c.index
        for c in model.choose([{"messages": f"case {i}", "options": options} for i in range(20)])
    ]
    assert all(0 <= p < 3 for p in picks) and len(set(picks)) > 1
    assert picks == [
        c.index
        for c in FakeModel(seed=3).choose(
            [{"messages": f"case {i}", "options": options} for i in range(20)]
        )
    ]
    scripted = FakeModel(choices=[2, 9, -4])
    got = [c.index for c in scripted.choose([{"messages": "x", "options": options}] * 3)]
    assert got == [2, 2, 0]  # clipped into range


def test_injected_failures_then_success_and_calls_recorded():
    model = FakeModel(fail_times=1)
    with pytest.raises(TransientLLMError):
        model.generate([REQUEST])
    assert model.generate([REQUEST])[0].text
    assert [kind for kind, _ in model.calls] == ["generate", "generate"]


SCHEMA = {
    "type": "object",
    "properties": {
        "act": {"enum": ["offer", "accept"]},
        "price": {"type": "number", "minimum": 0, "maximum": 10},
        "note": {"type": "string", "maxLength": 12},
    },
    "required": ["act", "price", "note"],
    "additionalProperties": False,
}


def test_a_request_with_a_schema_gets_a_valid_json_instance():
    model = FakeModel(seed=2)
    requests = [{"messages": f"case {i}", "max_tokens": 2, "schema": SCHEMA} for i in range(20)]
    out = model.generate(requests)
    for completion in out:
        value = json.loads(completion.text)
        assert set(value) == {"act", "price", "note"}
        assert value["act"] in ("offer", "accept") and 0 <= value["price"] <= 10
        assert len(value["note"]) <= 12
        assert completion.usage.structured == "json_schema"
    assert [c.text for c in out] == [c.text for c in FakeModel(seed=2).generate(requests)]
    assert len({c.text for c in out}) > 1
    plain = model.generate([REQUEST])[0]
    assert plain.usage.structured == "off"
    assert FakeModel().structured == "off"
    assert FakeModel(structured="json_schema").structured == "json_schema"


def test_fail_requests_fails_single_requests_by_number_or_predicate():
    model = FakeModel(fail_requests={1, 2})
    out = model.generate([REQUEST] * 2) + model.choose([{"messages": "x", "options": ["a", "b"]}])
    assert [r.failed for r in out] == [False, True, True]
    assert out[1].text == "" and out[1].transient and out[1].error
    assert out[1].usage.failed_requests == 1 and out[1].usage.requests == 1
    assert out[2].method == "fallback" and out[2].transient
    assert not model.generate([REQUEST])[0].failed  # request number 3

    picky = FakeModel(fail_requests=lambda r: "boom" in r.messages[-1]["content"])
    texts = picky.generate([REQUEST, {"messages": "boom"}])
    assert [c.failed for c in texts] == [False, True]
