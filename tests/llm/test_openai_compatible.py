"""OpenAICompatibleModel against a real HTTP server on 127.0.0.1 that follows a script."""

from __future__ import annotations

import logging
import random
import socket
import time
import traceback

import pytest

from sim.llm.errors import EndpointError, LLMError
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


@pytest.mark.parametrize("failure", ["429:0", "500", "503", "slow", "not_json", "no_choices"])
def test_retries_a_transient_failure_then_succeeds(server, connect, failure):
    model = connect(timeout_s=0.3, max_retries=2)
    server.script = [failure]
    (out,) = model.generate([{"messages": "hi"}])
    assert out.text == "echo: hi"
    assert len(server.requests) == 2


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


def test_persistent_server_error_fails_after_bounded_retries(server, connect):
    model = connect(max_retries=3)
    server.script = ["500"] * 10
    start = time.monotonic()
    with pytest.raises(EndpointError) as caught:
        model.generate([{"messages": "hi"}])
    assert time.monotonic() - start < 1.0
    assert len(server.requests) == 4
    message = str(caught.value)
    assert f"{server.base_url}/chat/completions" in message
    assert "HTTP 500 after 4 attempts" in message
    assert "\n" not in message


def test_bad_request_is_not_retried(server, connect):
    model = connect()
    server.script = ["400"]
    with pytest.raises(EndpointError, match=r"HTTP 400 .*fake 400") as caught:
        model.generate([{"messages": "hi"}])
    assert len(server.requests) == 1
    assert isinstance(caught.value, LLMError)


def test_unauthorized_names_the_env_var_and_never_leaks_the_key(
    server, connect, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MERCATO_TEST_KEY", SECRET)
    model = connect(api_key_env="MERCATO_TEST_KEY")
    server.script = ["500", "401"]
    with pytest.raises(EndpointError) as caught:
        model.generate([{"messages": "hi"}])

    assert len(server.requests) == 2  # the 500 was retried, the 401 was not
    assert all(r["headers"]["Authorization"] == f"Bearer {SECRET}" for r in server.requests)
    error = caught.value
    assert "HTTP 401" in str(error) and "$MERCATO_TEST_KEY" in str(error)
    shown = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        repr(model),
        caplog.text,
    ]
    assert all(SECRET not in text for text in shown)


def test_unreachable_endpoint_fails_fast(connect):
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    model = connect(base_url=url, max_retries=2, timeout_s=1.0)
    start = time.monotonic()
    with pytest.raises(EndpointError) as caught:
        model.generate([{"messages": "a"}, {"messages": "b"}])
    assert time.monotonic() - start < 3.0
    assert str(caught.value) == (
        f"openai endpoint {url}/chat/completions: connection failed after 3 attempts (ConnectError)"
    )


def test_max_concurrency_is_respected(server, connect):
    server.delay_s = 0.1
    model = connect(max_concurrency=2)
    out = model.generate([{"messages": str(i)} for i in range(6)])
    assert len(out) == 6
    assert server.max_in_flight == 2


def test_a_failed_batch_cancels_queued_requests_and_the_model_stays_usable(server, connect):
    model = connect(max_concurrency=1)
    server.script = ["ok", "400", "ok"]
    with pytest.raises(EndpointError):
        model.generate([{"messages": str(i)} for i in range(3)])
    assert len(server.requests) == 2  # the third was never sent
    assert model.generate([{"messages": "again"}])[0].text == "echo: again"


@pytest.mark.parametrize(
    ("answer", "index"),
    [
        ("2", 1),
        ("Option 3.", 2),
        ("  HOLD ", 2),
        ("I will accept the offer", 1),
    ],
)
def test_choose_parses_the_answer(server, connect, answer, index):
    model = connect()
    server.script = [f"say:{answer}"]
    options = ("accept", "accept the offer", "hold")
    (choice,) = model.choose([ChooseRequest(messages="Your move?", options=options, seed=5)])
    assert (choice.index, choice.option, choice.method) == (index, options[index], "answer")
    assert choice.scores == ()
    assert choice.usage.backend == "openai" and choice.usage.completion_tokens == 2

    (request,) = server.requests
    body = request["body"]
    assert body["temperature"] == 0 and body["max_tokens"] <= 16 and body["seed"] == 5
    (prompt,) = body["messages"]
    assert prompt["role"] == "user" and prompt["content"].startswith("Your move?")
    assert "1. accept\n2. accept the offer\n3. hold" in prompt["content"]


def test_choose_reasks_once_then_accepts(server, connect):
    model = connect()
    server.script = ["say:hmm", "say:1"]
    messages = [{"role": "user", "content": "Pick"}, {"role": "assistant", "content": "Which?"}]
    (choice,) = model.choose([{"messages": messages, "options": ["x", "y"]}])
    assert (choice.index, choice.method) == (0, "answer")
    first, second = (r["body"]["messages"] for r in server.requests)
    assert first[:2] == messages and first[2]["role"] == "user"
    assert second[:3] == first
    assert second[3] == {"role": "assistant", "content": "hmm"}
    assert second[4]["role"] == "user"
    assert choice.usage.completion_tokens == 4
    assert choice.usage.prompt_tokens == len(first[-1]["content"]) + len(second[-1]["content"])


def test_choose_falls_back_to_a_seeded_draw(server, connect):
    model = connect()
    server.script = ["say:no idea", "say:still no idea"]
    options = ["a", "b", "c", "d", "e"]
    (choice,) = model.choose([{"messages": "Pick", "options": options, "seed": 7}])
    assert choice.method == "fallback"
    assert choice.index == random.Random(7).randrange(len(options))
    assert choice.option == options[choice.index]
    assert len(server.requests) == 2


def test_choose_batches_mixed_outcomes(server, connect):
    model = connect(max_concurrency=1)
    server.script = ["say:2", "say:??", "say:1"]
    out = model.choose([{"messages": "p", "options": ["a", "b"]}] * 2)
    assert [(c.index, c.method) for c in out] == [(1, "answer"), (0, "answer")]
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


def test_unauthorized_without_a_key_says_the_env_var_is_unset(server, connect, monkeypatch):
    monkeypatch.delenv("MERCATO_TEST_KEY", raising=False)
    model = connect(api_key_env="MERCATO_TEST_KEY")
    server.script = ["401"]
    with pytest.raises(EndpointError, match=r"\$MERCATO_TEST_KEY, which is not set"):
        model.generate([{"messages": "hi"}])
    assert "Authorization" not in server.requests[0]["headers"]
