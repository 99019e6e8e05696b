"""Shared pieces of the TRL exports: which decisions a run offers as text, and message shapes.

`formats` (SFT, DPO, KTO rows) and `counterfactual` (replayed DPO pairs) both build on these, so
neither imports the other's internals.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import orjson

from sim.export.decisions import RunData
from sim.export.errors import ExportError
from sim.export.scripted import RolePrompt, TextDecision, text_decisions

PAIRINGS = ("best-worst", "all")
"""How DPO pairs are formed from a state's ranked completions."""

Run = str | os.PathLike[str] | RunData


def selected_texts(
    run: RunData,
    fmt: str,
    agents: Sequence[str] | None,
    roles: Sequence[str] | None,
    cells: Sequence[str] | None,
    include_scripted: bool,
    role_prompt: RolePrompt,
) -> list[TextDecision]:
    """The decisions of ``run`` (filtered) as texts, or an `ExportError` saying why there are none
    and what to do instead (the Python argument, then the CLI flag in brackets)."""
    selected = run.select(agents, roles, cells)
    texts = text_decisions(run, selected, include_scripted, role_prompt)
    if texts:
        return texts
    scope = scope_note(agents=agents, roles=roles, cells=cells)
    llm = [d for d in selected if d.is_llm]
    instead = (
        "pass include_scripted=True (--scripted) to export the scripted players' decisions "
        "(games only), or export format 'minari' with agent=NAME (--format minari --agent NAME) "
        "for offline RL"
    )
    if include_scripted:
        raise ExportError(f"run {run.run_id} has no decisions{scope} to export as {fmt}")
    if not llm:
        raise ExportError(
            f"run {run.run_id} has no LLM decisions{scope} to export as {fmt}; {instead}"
        )
    if fmt == "dpo":
        instead = (
            "pass counterfactual=True (--counterfactual) to branch from those states with every "
            "valid action"
        )
    raise ExportError(
        f"run {run.run_id} has {len(llm)} LLM decision(s){scope} but none came from a parsed reply "
        f"(all constrained choice or default), so there is no model text to export as {fmt}; "
        + instead
    )


def scope_note(**filters: Sequence[str] | None) -> str:
    """`` for agents=[...]``: the filters given, for error messages."""
    given = [f"{name}={list(values)}" for name, values in filters.items() if values is not None]
    return f" for {', '.join(given)}" if given else ""


def assistant_message(text: str) -> list[dict[str, str]]:
    """A completion in TRL's conversational form: one assistant message."""
    return [{"role": "assistant", "content": text}]


def unique_pairs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DPO rows with each (prompt, chosen, rejected) once, at its first occurrence: alike
    episodes reach the same state again, and one preference twice is a duplicate example."""
    seen: set[bytes] = set()
    kept = []
    for row in rows:
        key = orjson.dumps([row["prompt"], row["chosen"], row["rejected"]])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept
