"""Retry, cache and budget wrappers keep the interface and do what they promise."""

from __future__ import annotations

import sqlite3

import pytest

from sim.llm import BudgetExceededError, TransientLLMError, make_model
from sim.llm.fake import FakeModel
from sim.llm.wrappers import BudgetedModel, CachedModel, RetryingModel

REQ = {"messages": "hello", "max_tokens": 8}


def test_retry_recovers_from_transient_failures_with_backoff():
    waits: list[float] = []
    model = RetryingModel(FakeModel(fail_times=2), attempts=3, backoff_s=0.1, sleep=waits.append)
    assert model.generate([REQ])[0].text
    assert waits == [0.1, 0.2]


def test_retry_gives_up_after_its_attempts():
    inner = FakeModel(fail_times=5)
    model = RetryingModel(inner, attempts=2, sleep=lambda s: None)
    with pytest.raises(TransientLLMError):
        model.choose([{"messages": "x", "options": ["a", "b"]}])
    assert len(inner.calls) == 2


def test_cache_serves_hits_and_batches_only_the_misses(tmp_path):
    inner = FakeModel(seed=4)
    model = CachedModel(inner, tmp_path / "cache.sqlite")
    first = model.generate([REQ, {**REQ, "seed": 1}])
    mixed = model.generate([{**REQ, "seed": 2}, REQ])
    assert len(inner.calls) == 2
    assert len(inner.calls[1][1]) == 1  # only the miss reached the model
    assert mixed[1].text == first[0].text and mixed[1].usage.cached
    assert not mixed[0].usage.cached
    assert (model.hits, model.misses) == (1, 3)


def test_cache_persists_across_instances_and_covers_choose(tmp_path):
    path = tmp_path / "cache.sqlite"
    req = {"messages": "pick", "options": ["x", "y", "z"]}
    original = CachedModel(FakeModel(seed=9), path).choose([req])[0]
    fresh_inner = FakeModel(seed=123)  # would answer differently if asked
    replay = CachedModel(fresh_inner, path).choose([req])[0]
    assert fresh_inner.calls == []
    assert (replay.index, replay.option, replay.usage.cached) == (
        original.index,
        original.option,
        True,
    )


def test_cache_key_distinguishes_models(tmp_path):
    path = tmp_path / "cache.sqlite"
    CachedModel(FakeModel(model_id="a"), path).generate([REQ])
    other = FakeModel(model_id="b")
    CachedModel(other, path).generate([REQ])
    assert len(other.calls) == 1


def test_cache_never_stores_an_api_key(tmp_path, connect, monkeypatch):
    monkeypatch.setenv("MERCATO_CACHE_TEST_KEY", "sk-never-store-me")
    path = tmp_path / "cache.sqlite"
    model = CachedModel(connect(api_key_env="MERCATO_CACHE_TEST_KEY"), path)
    assert model.generate([REQ])[0].text.startswith("echo")
    model.close()
    assert b"sk-never-store-me" not in path.read_bytes()
    rows = sqlite3.connect(path).execute("SELECT key, value FROM results").fetchall()
    assert rows and all("sk-never-store-me" not in k + v for k, v in rows)


def test_budget_refuses_batches_beyond_the_request_budget():
    model = BudgetedModel(FakeModel(), max_requests=3)
    model.generate([REQ, REQ])
    with pytest.raises(BudgetExceededError, match="request budget: 2 of 3"):
        model.generate([REQ, REQ])
    model.generate([REQ])
    assert model.requests_used == 3


def test_budget_stops_once_tokens_are_spent():
    model = BudgetedModel(FakeModel(responses=["a b c d"]), max_tokens=5)
    model.generate([REQ])  # 1 prompt + 4 completion tokens
    with pytest.raises(BudgetExceededError, match="token budget"):
        model.generate([REQ])


def test_make_model_wraps_in_the_documented_order(tmp_path):
    model = make_model(
        {
            "backend": "fake",
            "fail_times": 1,
            "retry": {"attempts": 2, "backoff_s": 0.0},
            "budget": {"max_requests": 10},
            "cache": str(tmp_path / "c.sqlite"),
        }
    )
    assert isinstance(model, CachedModel)
    assert isinstance(model.inner, BudgetedModel)
    assert isinstance(model.inner.inner, RetryingModel)
    assert model.generate([REQ])[0].text  # the injected failure was retried
    model.generate([REQ])  # a cache hit costs no budget
    assert model.inner.requests_used == 1


def test_retry_resends_only_the_requests_that_failed_transiently():
    waits: list[float] = []
    inner = FakeModel(fail_requests={1, 3})
    model = RetryingModel(inner, attempts=3, backoff_s=0.1, sleep=waits.append)
    out = model.generate([{"messages": f"m{i}"} for i in range(4)])

    assert all(not c.failed for c in out)
    assert [len(requests) for _, requests in inner.calls] == [4, 2]
    assert [r.messages[0]["content"] for r in inner.calls[1][1]] == ["m1", "m3"]
    assert waits == [0.1]
    assert [c.usage.requests for c in out] == [1, 2, 1, 2]
    assert out[1].usage.failed_requests == 1 and len(out[1].usage.failures) == 1
    assert out[0].usage.failed_requests == 0


def test_retry_keeps_a_result_that_still_fails_after_its_attempts():
    inner = FakeModel(fail_requests=lambda r: "bad" in r.messages[0]["content"])
    model = RetryingModel(inner, attempts=3, sleep=lambda s: None)
    good, bad = model.choose(
        [{"messages": "ok", "options": ["a", "b"]}, {"messages": "bad", "options": ["a", "b"]}]
    )
    assert good.method == "scripted" and not good.failed
    assert bad.failed and bad.method == "fallback"
    assert (bad.usage.requests, bad.usage.failed_requests) == (3, 3)
    assert [len(requests) for _, requests in inner.calls] == [2, 1, 1]


def test_retry_resends_only_the_failed_http_requests(server, connect):
    backend = connect(max_retries=1)
    model = RetryingModel(backend, attempts=2, sleep=lambda s: None)
    out = model.generate([{"messages": "a"}, {"messages": "b [fault:500*2]"}, {"messages": "c"}])
    assert [c.failed for c in out] == [False, False, False]
    contents = [r["body"]["messages"][-1]["content"] for r in server.requests]
    assert sorted(contents) == ["a", "b [fault:500*2]", "b [fault:500*2]", "b [fault:500*2]", "c"]
    assert (out[1].usage.requests, out[1].usage.failed_requests) == (3, 2)


def test_cache_never_stores_failed_results(tmp_path):
    path = tmp_path / "cache.sqlite"
    inner = FakeModel(fail_requests={0})
    model = CachedModel(inner, path)
    first = model.generate([REQ])
    assert first[0].failed
    again = model.generate([REQ])
    assert not again[0].failed and not again[0].usage.cached
    assert model.generate([REQ])[0].usage.cached
    assert len(inner.calls) == 2
    rows = sqlite3.connect(path).execute("SELECT value FROM results").fetchall()
    assert len(rows) == 1 and '"error": null' in rows[0][0]


def test_budget_charges_every_request_a_backend_reports():
    model = BudgetedModel(FakeModel(fail_requests={0}), max_requests=3)
    out = model.generate([REQ, REQ])
    assert out[0].failed and model.requests_used == 2  # the failed one counts too
    with pytest.raises(BudgetExceededError, match="a batch of 2 would exceed it"):
        model.generate([REQ, REQ])


def test_budget_installs_its_gate_on_the_innermost_http_backend(server, connect):
    backend = connect(max_retries=0)
    model = BudgetedModel(RetryingModel(backend, attempts=2, sleep=lambda s: None), max_requests=3)
    assert backend.request_gate is not None
    out = model.generate([{"messages": f"m{i}"} for i in range(5)])
    assert [c.failed for c in out].count(False) == 3
    assert len(server.requests) == 3 and model.requests_used == 3
    assert all("budget exhausted" in c.error for c in out if c.failed)
    assert all(c.usage.requests == 0 for c in out if c.failed)


def test_wrappers_pass_on_the_structured_mode_and_key_note(tmp_path, connect):
    model = CachedModel(BudgetedModel(connect(structured="guided")), tmp_path / "c.sqlite")
    assert model.structured == "guided" and model.key_note == "no API key sent"
    assert CachedModel(FakeModel(), tmp_path / "d.sqlite").structured == "off"
