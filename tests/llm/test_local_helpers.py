"""The local backend's pure helpers (no model needed)."""

from __future__ import annotations

from sim.llm.local import default_threads
from sim.llm.local_batch import cut_at_stop, option_chunks


def testoption_chunks_respect_the_budget_but_never_split_a_request():
    assert option_chunks([2, 2, 2], 4) == [[0, 1], [2]]
    assert option_chunks([5, 1], 4) == [[0], [1]]  # an oversize request goes alone
    assert option_chunks([1] * 5, 32) == [[0, 1, 2, 3, 4]]


def test_cut_at_the_earliest_stop_string():
    assert cut_at_stop("a b STOP c END", ["END", "STOP"]) == ("a b ", True)
    assert cut_at_stop("no stop here", ["END"]) == ("no stop here", False)


def test_threads_follow_the_environment_variable(monkeypatch):
    monkeypatch.setenv("MERCATO_TORCH_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("MERCATO_TORCH_THREADS")
    assert 1 <= default_threads() <= 8
