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
