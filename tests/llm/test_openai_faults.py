"""Per-request failures of the OpenAI-compatible backend: isolation, deadlines, secrets, budget,
overload pause and billed tokens, against the scripted server on 127.0.0.1."""

from __future__ import annotations

import logging
import random
import sqlite3
import time

import pytest

from sim.llm import BudgetExceededError
from sim.llm.openai_http import Transport
from sim.llm.redact import redact, redactor
from sim.llm.wrappers import BudgetedModel, CachedModel, RetryingModel

SECRET = "sk-proj-SECRETSECRET123456"
ODD_SECRET = "tok_7f3a9c2e5b1d"


def test_a_batch_keeps_its_good_answers_when_some_requests_fail_for_good(server, connect):
    model = connect(max_retries=1, max_concurrency=4)
    faults = {2: "500", 5: "429:0", 7: "not_json", 11: "404", 14: "503"}
    requests = [
        {"messages": f"m{i} [fault:{faults[i]}]" if i in faults else f"m{i}"} for i in range(16)
    ]
    out = model.generate(requests)

    assert [i for i, c in enumerate(out) if c.failed] == sorted(faults)
    for i, completion in enumerate(out):
        if i in faults:
            assert completion.text == "" and completion.usage.failed_requests >= 1
            assert completion.transient == (faults[i] != "404")
        else:
            assert completion.text == f"echo: m{i}" and completion.error is None
            assert (completion.usage.requests, completion.usage.failed_requests) == (1, 0)
    assert "HTTP 404" in out[11].error and "model name 'fake-model'" in out[11].error
    assert out[11].usage.requests == 1  # not retried
    assert out[2].usage.requests == 2  # retried once
    assert "malformed response" in out[7].error


def test_a_slow_drip_body_is_cut_at_the_deadline_and_not_resent(server, connect):
    model = connect(timeout_s=1.0, max_retries=3)
    start = time.monotonic()
    (out,) = model.generate([{"messages": "hi [fault:drip]"}])
    elapsed = time.monotonic() - start
    assert elapsed < 1.0 + 0.35
    assert out.failed and not out.transient and "timed out after 1s" in out.error
    assert len(server.requests) == 1
    assert (out.usage.requests, out.usage.failed_requests) == (1, 1)


def test_a_body_that_stalls_midway_is_cut_at_the_deadline(server, connect):
    model = connect(timeout_s=0.6, max_retries=3)
    start = time.monotonic()
    (out,) = model.generate([{"messages": "hi [fault:stall]"}])
    assert time.monotonic() - start < 0.6 + 0.25  # the last byte came at 0.4 s
    assert out.failed and "timed out" in out.error
    assert len(server.requests) == 1
    assert model.generate([{"messages": "next"}])[0].text == "echo: next"


def test_the_deadline_starts_when_a_request_is_sent_not_while_it_waits(server, connect):
    model = connect(timeout_s=0.7, max_concurrency=1)
    out = model.generate([{"messages": f"m{i} [fault:slow:0.4]"} for i in range(3)])
    assert [c.text for c in out] == [f"echo: m{i} [fault:slow:0.4]" for i in range(3)]


def test_reason_phrases_and_bodies_that_echo_the_key_never_show_it(
    server, connect, monkeypatch, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MY_KEY", SECRET)
    path = tmp_path / "cache.sqlite"
    model = CachedModel(connect(api_key_env="MY_KEY", max_retries=2), path)
    out = model.generate([{"messages": "a [fault:reason_echo]"}, {"messages": "b"}])
    model.close()

    failed, good = out
    assert good.text == "echo: b"
    assert (
        failed.failed
        and "HTTP 500 Oops" in failed.error
        and "received Authorization" in (failed.error)
    )
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    shown = [failed.error, *failed.usage.failures, repr(failed), caplog.text]
    assert all(SECRET not in text and SECRET[8:] not in text for text in shown)
    assert "retry 1/2" in caplog.text  # the retries were logged, redacted
    assert SECRET.encode() not in path.read_bytes()
    rows = sqlite3.connect(path).execute("SELECT value FROM results").fetchall()
    assert len(rows) == 1 and all(SECRET not in value for (value,) in rows)


def test_a_key_of_any_shape_is_redacted(server, connect, monkeypatch):
    monkeypatch.setenv("MY_KEY", ODD_SECRET)
    model = connect(api_key_env="MY_KEY", max_retries=0)
    server.script = ["401"]
    (out,) = model.generate([{"messages": "hi"}])
    assert "HTTP 401" in out.error and ODD_SECRET not in out.error


def test_redact_masks_given_secrets_bearer_tokens_and_sk_keys():
    text = "key abc123SECRET; Authorization: Bearer xyz.TOKEN-1, other sk-live-ABCDEF12345"
    shown = redact(text, ["abc123SECRET", None, ""])
    assert "abc123SECRET" not in shown and "xyz.TOKEN-1" not in shown
    assert "sk-live-ABCDEF12345" not in shown and "Bearer ***" in shown
    assert redact("nothing to hide", ["sk-x"]) == "nothing to hide"


def test_a_redactor_masks_what_redact_masks() -> None:
    """`redactor` (the pages' fast path) skips only texts with nothing to mask."""
    secrets = ["abc123SECRET", None, "s3"]
    masked = redactor(secrets)
    texts = ["key abc123SECRET;", "Authorization: BeArEr%20xyz", "x sk-live-ABCDEF12345",
             "nothing to hide", "s3 and S3", "bearer", "the sk- prefix"]  # fmt: skip
    for text in texts:
        assert masked(text) == redact(text, secrets), text
    assert masked("key abc123SECRET;") == "key ***;"


@pytest.mark.parametrize("with_retry", [False, True])
def test_the_budget_stops_at_max_requests_counting_failed_ones(server, connect, with_retry):
    backend = connect(max_retries=3)
    inner = RetryingModel(backend, attempts=3, sleep=lambda s: None) if with_retry else backend
    model = BudgetedModel(inner, max_requests=4)
    out = model.generate([{"messages": f"m{i} [fault:500]"} for i in range(5)])

    assert len(server.requests) <= 4
    assert model.requests_used == 4
    assert all(c.failed for c in out)
    assert sum(c.usage.requests for c in out) == len(server.requests)
    assert any("budget exhausted" in c.error for c in out)
    with pytest.raises(BudgetExceededError, match="request budget: 4 of 4"):
        model.generate([{"messages": "more"}])
    assert len(server.requests) <= 4


def test_retry_after_pauses_every_request_to_the_model(server, connect):
    server.delay_s = 0.05
    model = connect(max_concurrency=2, max_backoff_s=2.0)
    server.script = ["429:0.5"]
    out = model.generate([{"messages": f"m{i}"} for i in range(6)])

    assert all(not c.failed for c in out)
    (overloaded_at,) = [r["t"] for r in server.replies if r["status"] == 429]
    later = [r["t"] for r in server.requests[2:]]  # after the first two, sent together
    assert len(later) == 5  # the retried one and every request not yet sent
    assert all(t >= overloaded_at + 0.45 for t in later)


def test_usage_over_attempts_sums_what_the_server_billed(server, connect):
    server.bill_failures = True
    model = connect(max_retries=3, max_concurrency=3)
    requests = [
        {"messages": "a [fault:500*2]"},
        {"messages": "b"},
        {"messages": "c [fault:503]"},
        {"messages": "d [fault:429:0*1]"},
    ]
    out = model.generate(requests)

    assert [c.failed for c in out] == [False, False, True, False]
    assert [c.usage.requests for c in out] == [3, 1, 4, 2]
    assert [c.usage.failed_requests for c in out] == [2, 0, 4, 1]
    prompt, completion = server.billed()
    assert sum(c.usage.prompt_tokens for c in out) == prompt
    assert sum(c.usage.completion_tokens for c in out) == completion
    assert out[0].usage.prompt_tokens == 2 * 7 + len("a [fault:500*2]")
    assert sum(c.usage.requests for c in out) == len(server.requests)


def test_backoff_doubles_with_seeded_jitter_and_is_capped():
    transport = Transport(
        client=None,
        url="u",
        label="l",
        timeout_s=1.0,
        max_retries=5,
        backoff_s=0.1,
        max_backoff_s=0.5,
        retry_timeouts=False,
        hint=lambda status, body: "",
    )

    def waits(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [transport._backoff(attempt, None, rng) for attempt in range(5)]

    assert waits(1) == waits(1) and waits(1) != waits(2)
    for attempt, wait in enumerate(waits(1)):
        assert min(0.1 * 2**attempt, 0.5) <= wait <= min(0.2 * 2**attempt, 0.5)
    assert transport._backoff(0, 3.0, random.Random(0)) == 0.5  # Retry-After, capped
    assert transport._backoff(3, 0.2, random.Random(0)) == 0.2


def test_empty_content_is_a_malformed_response_that_is_retried(server, connect):
    model = connect(max_retries=1)
    (out,) = model.generate([{"messages": "hi [fault:empty*1]"}])
    assert not out.failed and out.text.startswith("echo:")
    assert (out.usage.requests, out.usage.failed_requests) == (2, 1)
    assert "malformed response (empty content)" in out.usage.failures[0]
