"""The live progress line of `mercato run`: episodes done/total, episodes/s, tokens/s, LLM
fallbacks (decisions not parsed from a reply, with their share) and errors (failed requests),
kept apart so format noise and a dead endpoint never read alike. Until the first shard is done it
says what it waits for (``loading model ...`` for a run with language models, else
``starting ...``), so ``0/64`` never sits there without a word."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RunProgress:
    """A rich progress bar fed by `sim.engine.batch.run`'s ``on_progress`` callback."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]episodes"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rates]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: Any = None
        self._started = time.perf_counter()
        self._episodes = 0
        self._tokens = 0
        self._errors = 0
        self._decisions = 0
        self._fallbacks = 0
        self._has_models = False

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._progress.__exit__(*exc_info)

    def models(self, lines: list[str]) -> None:
        """Print the run's models (each preflighted: backend, endpoint, structured mode, where
        keys go), one line each; `sim.engine.batch.run`'s ``on_models`` callback."""
        self._has_models = bool(lines)
        for line in lines:
            self._progress.console.print(f"model {line}", markup=False, highlight=False)

    def start(self, total: int, finished: int) -> None:
        """Show the bar: ``finished`` of ``total`` episodes were done by an earlier run."""
        waiting = "loading model ..." if self._has_models else "starting ..."
        self._task = self._progress.add_task("run", total=total, completed=finished, rates=waiting)

    def update(self, summary: Any, finished: int, total: int) -> None:
        """Account one finished shard."""
        if self._task is None:
            self.start(total, finished - summary.episodes)
        self._episodes += summary.episodes
        self._tokens += summary.llm_tokens
        self._errors += summary.errors
        self._decisions += summary.llm_decisions
        self._fallbacks += summary.fallbacks
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        rates = f"{self._episodes / elapsed:,.1f} ep/s  {self._tokens / elapsed:,.0f} tok/s"
        if self._decisions:
            share = self._fallbacks / self._decisions
            rates += (
                f"  {self._fallbacks} fallbacks ({share:.0%} of {self._decisions} LLM decisions)"
            )
        rates += f"  {self._errors} errors"
        self._progress.update(self._task, completed=finished, rates=rates)
