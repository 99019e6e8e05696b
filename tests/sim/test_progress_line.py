"""The progress line of `mercato run` says what it waits for before the first shard is done."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from sim.engine.progress import RunProgress


def _shown(progress: RunProgress, console: Console) -> str:
    """What the terminal shows now: the printed lines, then the live bar."""
    bar = _console()
    bar.print(progress._progress.get_renderable())
    return console.file.getvalue() + bar.file.getvalue()  # type: ignore[attr-defined]


def _console() -> Console:
    return Console(file=io.StringIO(), width=120, force_terminal=False)


def test_a_run_with_models_says_loading_model_until_its_first_shard():
    console = _console()
    with RunProgress(console) as progress:
        progress.models(["smol: local smollm2-135m-instruct (structured: grammar)"])
        progress.start(64, 0)
        before = _shown(progress, console)
        summary = SimpleNamespace(
            episodes=8, llm_tokens=100, errors=0, llm_decisions=8, fallbacks=0
        )
        progress.update(summary, 8, 64)
        after = _shown(progress, console).splitlines()[-1]
    assert "model smol: local smollm2-135m-instruct" in before
    assert "0/64" in before and "loading model ..." in before
    assert "8/64" in after and "loading model" not in after and "ep/s" in after


def test_a_run_without_models_says_starting():
    console = _console()
    with RunProgress(console) as progress:
        progress.models([])
        progress.start(10, 0)
        shown = _shown(progress, console)
    assert "0/10" in shown and "starting ..." in shown and "loading model" not in shown
