"""Honest runs: a run whose LLM decisions mostly fell back ends ``failed``, not ``complete``.

Per model, the share of LLM decisions reached by constrained choice or the safe default is
watched while shards come in. A shard over the model's ``max_fallback_rate`` is marked for replay
(it stays on disk and loadable until a later run replays it), and once a model is over its limit
across at least `MIN_DECISIONS` decisions of this run, no further shard is started. The final
verdict is taken over every episode on disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sim.engine.records import LLMTally

MIN_DECISIONS = 20
"""Decisions a model needs in this run before its fallback share can stop the run early."""


class FallbackRateError(RuntimeError):
    """The run ended ``failed``: a model's fallback share exceeded its ``max_fallback_rate``."""

    def __init__(self, message: str, run_dir: Any) -> None:
        super().__init__(message)
        self.run_dir = run_dir


def add_tallies(into: dict[str, LLMTally], tallies: Mapping[str, LLMTally]) -> None:
    """Add per-model tallies into ``into``."""
    for key, tally in tallies.items():
        into.setdefault(key, LLMTally()).add(tally)


def over_limit(tallies: Mapping[str, LLMTally], limit_of: Any, min_decisions: int = 1) -> list[str]:
    """One line per model whose fallback share exceeds its limit (with enough decisions)."""
    lines = []
    for key, tally in sorted(tallies.items()):
        rate, limit = tally.fallback_rate, limit_of(key)
        if rate is not None and tally.decisions >= min_decisions and rate > limit:
            lines.append(
                f"model {key}: {rate:.0%} of {tally.decisions} LLM decisions fell back "
                f"({tally.choice} constrained choice, {tally.default} default; "
                f"{tally.failed_requests} failed requests) > max_fallback_rate {limit:g}"
            )
    return lines


def tallies_of(by_model_column: Iterable[Any]) -> dict[str, LLMTally]:
    """Per-model totals from an episodes table's ``llm_by_model`` JSON column."""
    totals: dict[str, LLMTally] = {}
    for text in by_model_column:
        if isinstance(text, str) and text:
            data = json.loads(text)
            add_tallies(totals, {k: LLMTally.from_dict(v) for k, v in data.items()})
    return totals


def manifest_totals(tallies: Mapping[str, LLMTally]) -> dict[str, dict[str, Any]]:
    """The manifest's per-model totals, with the fallback share."""
    return {
        key: {**tally.as_dict(), "fallback_rate": tally.fallback_rate}
        for key, tally in sorted(tallies.items())
    }
