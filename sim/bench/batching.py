"""`mercato bench batching`: how full model batches are, and what the engine costs around them.

A preset (the manipulation trial or the marketplace manipulation study, with an LLM player) is
played in-process twice through `sim.engine.batch.play_shard`: with the former scheduling (lockstep
within one cell, scripted turns taking a tick, identical requests sent apart) and with the
current one (`sim.engine.rollout.Batching`). Every model call is logged: its kind, its requests, its
time, and whether it was made while episodes were still waiting to start (the lockstep can be
full only then). The current run's calls are then replayed on the same model, alone: rollout
tokens/s over replay tokens/s is the share of time the engine leaves to the model.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sim.bench.presets import presets
from sim.engine.experiment import Experiment, load_experiment
from sim.engine.rollout import BATCHING, Batching
from sim.llm import LanguageModel, make_model

BEFORE = Batching(across_cells=False, advance_scripted=False, share_identical=False)
"""The scheduling before cross-cell lockstep: the baseline of the comparison."""


@dataclass(frozen=True)
class LoggedCall:
    """One model call a rollout made."""

    kind: str
    requests: tuple[Any, ...]
    seconds: float
    completion_tokens: int
    while_full: bool
    """Made before the last episode started (the lockstep could be full)."""


@dataclass
class CallLog:
    """Every call made through `LoggingModel`s, in order."""

    calls: list[LoggedCall] = field(default_factory=list)
    drained: bool = False

    def mark_drained(self) -> None:
        self.drained = True

    def batch_sizes(self, *, while_full: bool = False, kind: str | None = None) -> list[int]:
        return [
            len(c.requests)
            for c in self.calls
            if (not while_full or c.while_full) and (kind is None or c.kind == kind)
        ]

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)


class LoggingModel:
    """A model that logs each call (batch, time, tokens) to a `CallLog`, then answers it."""

    def __init__(self, model: LanguageModel, log: CallLog) -> None:
        self.model, self.log = model, log
        self.backend, self.model_id = model.backend, model.model_id
        self.structured = getattr(model, "structured", "off")

    def generate(self, requests: Sequence[Any]) -> list[Any]:
        return self._logged("generate", requests)

    def choose(self, requests: Sequence[Any]) -> list[Any]:
        return self._logged("choose", requests)

    def _logged(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        started = time.perf_counter()
        answers = getattr(self.model, kind)(requests)
        seconds = time.perf_counter() - started
        tokens = sum(a.usage.completion_tokens for a in answers) if kind == "generate" else 0
        self.log.calls.append(
            LoggedCall(kind, tuple(requests), seconds, tokens, while_full=not self.log.drained)
        )
        return answers

    def close(self) -> None:
        close = getattr(self.model, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class Preset:
    """A study's experiment made small enough to bench, with an LLM player in one role."""

    name: str
    path: str
    params: Mapping[str, Any]
    llm_role: str
    llm_options: Mapping[str, Any]


PRESETS = {key: Preset(**preset) for key, preset in presets()["batching"].items()}
"""The presets by key (`sim/bench/presets.yaml`)."""


def preset_experiment(
    preset: Preset, model: Any, lockstep: int, episodes: int | None, max_tokens: int | None
) -> Experiment:
    """The preset's experiment: one shard, ``lockstep`` wide, the LLM in its role, and (unless
    ``episodes`` per cell is given) three times ``lockstep`` episodes in all, so the lockstep
    stays full for most of the run."""
    data = dict(load_experiment(preset.path).model_dump(by_alias=True, exclude_none=True))
    cells = len(load_experiment(data).cells())
    data["episodes"] = episodes or math.ceil(3 * lockstep / cells)
    data["params"] = {**data.get("params", {}), **preset.params}
    options = dict(preset.llm_options) | ({"max_tokens": max_tokens} if max_tokens else {})
    data["models"] = {"bench": model}
    data["roster"] = {
        **data["roster"],
        preset.llm_role: {"policy": "llm", "model": "bench", "options": options},
    }
    data.update(lockstep=lockstep, shard_size=cells * data["episodes"], name="bench-batching")
    return load_experiment(data)


@dataclass(frozen=True)
class Measured:
    """One scheduling's run: its call log and wall time."""

    label: str
    log: CallLog
    seconds: float
    lockstep: int

    def mean_batch(self, while_full: bool = False) -> float:
        sizes = self.log.batch_sizes(while_full=while_full)
        return sum(sizes) / len(sizes) if sizes else math.nan

    @property
    def tokens_per_s(self) -> float:
        return self.log.completion_tokens / self.seconds if self.seconds else math.nan


def play(experiment: Experiment, model: LanguageModel, batching: Batching, label: str) -> Measured:
    """Play the experiment's shards in-process through a logging model; time the whole run."""
    from sim.engine.batch import play_shard
    from sim.engine.roster import ModelPool
    from sim.store.runs import open_run

    log = CallLog()
    logged = LoggingModel(model, log)
    pool = ModelPool(experiment.models, build=lambda spec: logged)
    with (
        tempfile.TemporaryDirectory(prefix="mercato-bench-") as folder,
        open_run(Path(folder) / "run", experiment) as run_dir,
    ):
        started = time.perf_counter()
        for shard in experiment.shards():
            play_shard(
                experiment, shard, run_dir, pool, batching=batching, on_drained=log.mark_drained
            )
        seconds = time.perf_counter() - started
    return Measured(label, log, seconds, experiment.lockstep)


def replay_seconds(log: CallLog, model: LanguageModel) -> float:
    """Time to make the logged calls again, back to back, on ``model`` (no environment)."""
    started = time.perf_counter()
    for call in log.calls:
        getattr(model, call.kind)(list(call.requests))
    return time.perf_counter() - started


@dataclass(frozen=True)
class BatchingReport:
    """Before and after, and the replay of the after run's calls."""

    preset: str
    before: Measured | None
    """None when the baseline was not played (only the engine ratio was wanted)."""
    after: Measured
    replay_s: float

    @property
    def engine_ratio(self) -> float:
        """Rollout tokens/s over the model layer's own tokens/s on the same calls."""
        return self.replay_s / self.after.seconds if self.after.seconds else math.nan


def measure(
    preset_name: str,
    model: Any = "local",
    lockstep: int = 32,
    episodes: int | None = None,
    max_tokens: int | None = None,
    with_before: bool = True,
    params: Mapping[str, Any] | None = None,
) -> BatchingReport:
    """Run one preset before (unless ``with_before`` is off) and after, then replay the after
    run's calls. ``params`` override the preset's env params (e.g. fewer ticks on a slow CPU)."""
    preset = PRESETS[preset_name]
    if params:
        preset = replace(preset, params={**preset.params, **params})
    experiment = preset_experiment(preset, model, lockstep, episodes, max_tokens)
    llm = make_model(model)
    try:
        before = play(experiment, llm, BEFORE, "before (per cell)") if with_before else None
        after = play(experiment, llm, BATCHING, "after (across cells)")
        replay = replay_seconds(after.log, llm)
    finally:
        close = getattr(llm, "close", None)
        if close is not None:
            close()
    return BatchingReport(preset.name, before, after, replay)
