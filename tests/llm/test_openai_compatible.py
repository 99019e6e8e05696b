"""OpenAICompatibleModel against a real HTTP server on 127.0.0.1 that follows a script."""

from __future__ import annotations

import logging
import random
import socket
import time

import pytest

from sim.llm.errors import EndpointError, LLMError
from sim.llm.openai_choice import ChoicePlan
from sim.llm.openai_compatible import OpenAICompatibleModel
from sim.llm.types import ChooseRequest, GenerateRequest

SECRET = "sk-secret-123"


def test_batch_in_order_with_usage_and_payload(server, connect):
    server.delay_s = 0.05
    model = connect(extra_body={"top_p": 0.9})
    requests = [
        GenerateRequest(
            messages=({"role": "user", "content": "first"},),
            max_tokens=5,
            temperature=0.7,
            stop=("\n", "END"),
            seed=11,
        ),
        {"messages": "second", "max_tokens": 1},
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "third"}]},
    ]
    out = model.generate(requests)

    assert [c.text for c in out] == ["echo: first", "echo: second", "echo: third"]
    assert [c.finish_reason for c in out] == ["stop", "length", "stop"]
    assert [c.usage.prompt_tokens for c in out] == [5, 6, 5]
    assert all(c.usage.completion_tokens == 2 for c in out)
    assert all(c.usage.backend == "openai" and c.usage.model == "fake-model" for c in out)
    assert all(0.04 < c.usage.latency_s < 2 for c in out)

    bodies = {r["body"]["messages"][-1]["content"]: r["body"] for r in server.requests}
    assert {r["path"] for r in server.requests} == {"/v1/chat/completions"}
    assert bodies["first"] == {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "first"}],
        "max_tokens": 5,
        "temperature": 0.7,
        "stop": ["\n", "END"],
        "seed": 11,
        "top_p": 0.9,
    }
    assert "stop" not in bodies["second"] and "seed" not in bodies["second"]
    assert bodies["third"]["messages"][0] == {"role": "system", "content": "s"}
    assert all("Authorization" not in r["headers"] for r in server.requests)


def test_results_keep_request_order_when_replies_finish_out_of_order(server, connect):
    model = connect(max_concurrency=4)
    server.script = ["slow", "ok", "ok", "ok"]  # the first request to arrive is answered last
    out = model.generate([{"messages": f"m{i}"} for i in range(4)])
    assert [c.text for c in out] == [f"echo: m{i}" for i in range(4)]


@pytest.mark.parametrize("failure", ["429:0", "500", "503", "not_json", "no_choices"])
def test_retries_a_transient_failure_then_succeeds(server, connect, failure):
    model = connect(timeout_s=0.3, max_retries=2)
    server.script = [failure]
    (out,) = model.generate([{"messages": "hi"}])
    assert out.text == "echo: hi" and not out.failed
    assert len(server.requests) == 2
    assert (out.usage.requests, out.usage.failed_requests) == (2, 1)
    assert len(out.usage.failures) == 1 and "\n" not in out.usage.failures[0]


def test_a_request_that_timed_out_after_it_was_sent_is_not_resent(server, connect):
    model = connect(timeout_s=0.3, max_retries=2)
    server.script = ["slow"]
    (out,) = model.generate([{"messages": "hi"}])
    assert out.failed and not out.transient and out.text == ""  # no retry wrapper re-sends it
    assert "timed out after 0.3s" in out.error
    assert len(server.requests) == 1
    assert (out.usage.requests, out.usage.failed_requests) == (1, 1)

    resending = connect(timeout_s=0.3, max_retries=2, retry_timeouts=True)
    server.script = ["slow"]
    (out,) = resending.generate([{"messages": "hi"}])
    assert out.text == "echo: hi"
    assert len(server.requests) == 3


def test_retry_after_is_honoured_and_capped(server, connect):
    model = connect(max_backoff_s=0.3)
    server.script = ["429:0.2"]
    start = time.monotonic()
    model.generate([{"messages": "hi"}])
    assert time.monotonic() - start >= 0.2

    server.script = ["429:100"]
    start = time.monotonic()
    model.generate([{"messages": "hi"}])
    assert time.monotonic() - start < 1.0
    assert len(server.requests) == 4


def test_persistent_server_error_fails_that_request_after_bounded_retries(server, connect):
    model = connect(max_retries=3)
    server.script = ["500"] * 10
    start = time.monotonic()
    (out,) = model.generate([{"messages": "hi"}])
    assert time.monotonic() - start < 1.0
    assert len(server.requests) == 4
    assert out.failed and out.transient and out.text == ""
    assert f"{server.base_url}/chat/completions" in out.error
    assert "HTTP 500" in out.error and "(after 4 attempts)" in out.error
    assert "\n" not in out.error
    assert (out.usage.requests, out.usage.failed_requests) == (4, 4)
    assert all(f.startswith("HTTP 500") for f in out.usage.failures)


def test_bad_request_without_a_structured_form_fails_only_that_request(server, connect):
    model = connect()
    server.script = ["400"]
    (out,) = model.generate([{"messages": "hi"}])
    assert out.failed and not out.transient
    assert "HTTP 400" in out.error and "fake 400" in out.error
    assert len(server.requests) == 1


def test_unauthorized_names_the_env_var_and_never_leaks_the_key(
    server, connect, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MERCATO_TEST_KEY", SECRET)
    model = connect(api_key_env="MERCATO_TEST_KEY")
    server.script = ["500", "401"]
    (out,) = model.generate([{"messages": "hi"}])

    assert len(server.requests) == 2  # the 500 was retried, the 401 was not
    assert all(r["headers"]["Authorization"] == f"Bearer {SECRET}" for r in server.requests)
    assert out.failed and not out.transient
    assert "HTTP 401" in out.error and "$MERCATO_TEST_KEY" in out.error
    shown = [out.error, *out.usage.failures, repr(out), repr(model), caplog.text]
    assert all(SECRET not in text for text in shown)


def test_unreachable_endpoint_fails_fast(connect):
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    model = connect(base_url=url, max_retries=2, timeout_s=1.0)
    start = time.monotonic()
    out = model.generate([{"messages": "a"}, {"messages": "b"}])
    assert time.monotonic() - start < 3.0
    for completion in out:
        assert completion.error == (
            f"openai endpoint {url}/chat/completions: connection failed (ConnectError) "
            "(after 3 attempts)"
        )
        assert completion.transient and completion.usage.requests == 3


def test_max_concurrency_is_respected(server, connect):
    server.delay_s = 0.1
    model = connect(max_concurrency=2)
    out = model.generate([{"messages": str(i)} for i in range(6)])
    assert len(out) == 6
    assert server.max_in_flight == 2


def test_a_rejected_request_form_cancels_queued_requests_and_the_model_stays_usable(
    server, connect
):
    model = connect(max_concurrency=1)
    server.script = ["ok", "400", "ok"]
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    with pytest.raises(EndpointError) as caught:
        model.generate([{"messages": str(i), "schema": schema} for i in range(3)])
    assert len(server.requests) == 2  # the third was never sent
    message = str(caught.value)
    assert "'fake-model'" in message and server.base_url in message
    assert "structured: off" in message and "\n" not in message
    assert model.generate([{"messages": "again"}])[0].text == "echo: again"


def test_choose_takes_an_answer_that_is_exactly_one_id(server, connect):
    model = connect(structured="off")
    options = ("accept", "accept the offer", "hold")
    plan = ChoicePlan.build(ChooseRequest(messages="Your move?", options=options, seed=5), "off")
    for answer in ("2", " 2. ", '"2"', "'2'.", '{"choice": "2"}'):
        server.script = [f"say:{answer}"]
        (choice,) = model.choose([ChooseRequest(messages="Your move?", options=options, seed=5)])
        assert (choice.index, choice.method, choice.raw) == (plan.order[1], "answer", answer)
        assert choice.option == options[plan.order[1]]
        assert choice.usage.backend == "openai" and choice.usage.completion_tokens == 2
        assert choice.usage.structured == "off"
    body = server.requests[0]["body"]
    assert body["temperature"] == 0 and body["max_tokens"] <= 16 and body["seed"] == 5
    (prompt,) = body["messages"]
    assert prompt["role"] == "user" and prompt["content"].startswith("Your move?")
    listing = "\n".join(f"{k + 1}. {options[i]}" for k, i in enumerate(plan.order))
    assert listing in prompt["content"]


def test_choose_reasks_once_then_accepts(server, connect):
    model = connect()
    server.script = ["say:hmm", "say:1"]
    messages = [{"role": "user", "content": "Pick"}, {"role": "assistant", "content": "Which?"}]
    (choice,) = model.choose([{"messages": messages, "options": ["x", "y"]}])
    plan = ChoicePlan.build(ChooseRequest(messages=messages, options=("x", "y")), "json_schema")
    assert (choice.index, choice.method, choice.raw) == (plan.order[0], "answer", "1")
    first, second = (r["body"]["messages"] for r in server.requests)
    assert first[:2] == messages and first[2]["role"] == "user"
    assert second[:3] == first
    assert second[3] == {"role": "assistant", "content": "hmm"}
    assert second[4]["role"] == "user"
    assert choice.usage.completion_tokens == 4 and choice.usage.requests == 2
    assert choice.usage.prompt_tokens == len(first[-1]["content"]) + len(second[-1]["content"])


def test_choose_falls_back_to_a_seeded_draw(server, connect):
    model = connect()
    server.script = ["say:no idea", "say:still no idea"]
    options = ["a", "b", "c", "d", "e"]
    (choice,) = model.choose([{"messages": "Pick", "options": options, "seed": 7}])
    assert choice.method == "fallback" and choice.error is None
    assert choice.raw == "still no idea"
    assert choice.index == random.Random(7).randrange(len(options))
    assert choice.option == options[choice.index]
    assert len(server.requests) == 2


def test_choose_batches_mixed_outcomes(server, connect):
    model = connect(max_concurrency=1)
    server.script = ["say:2", "say:??", "say:1"]
    out = model.choose([{"messages": "p", "options": ["a", "b"]}] * 2)
    order = ChoicePlan.build(ChooseRequest(messages="p", options=("a", "b")), "off").order
    assert [(c.index, c.method) for c in out] == [(order[1], "answer"), (order[0], "answer")]
    assert len(server.requests) == 3


def test_close_is_idempotent_and_repr_hides_the_key(server, monkeypatch):
    monkeypatch.setenv("MERCATO_TEST_KEY", SECRET)
    with OpenAICompatibleModel(
        model="fake-model", base_url=server.base_url, api_key_env="MERCATO_TEST_KEY"
    ) as model:
        assert model.generate([{"messages": "hi"}])[0].text == "echo: hi"
        assert model.model_id == "fake-model" and model.backend == "openai"
        assert SECRET not in repr(model) and "MERCATO_TEST_KEY" in repr(model)
    model.close()
    with pytest.raises(LLMError, match="closed"):
        model.generate([{"messages": "hi"}])


def test_an_unset_key_variable_fails_the_call_before_anything_is_sent(server, connect, monkeypatch):
    monkeypatch.delenv("MERCATO_TEST_KEY", raising=False)
    model = connect(api_key_env="MERCATO_TEST_KEY")
    assert model.key_note == "key from $MERCATO_TEST_KEY (not set)"
    with pytest.raises(EndpointError, match=r"\$MERCATO_TEST_KEY is not set") as caught:
        model.generate([{"messages": "hi"}])
    assert "'fake-model'" in str(caught.value) and server.base_url in str(caught.value)
    assert server.requests == []


def test_unauthorized_without_a_key_says_no_key_was_sent(server, connect):
    model = connect()
    server.script = ["401"]
    (out,) = model.generate([{"messages": "hi"}])
    assert out.failed and "no API key was sent" in out.error and "api_key_env" in out.error
    assert "Authorization" not in server.requests[0]["headers"]
