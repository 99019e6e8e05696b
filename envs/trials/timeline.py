"""The trial's episode timeline for the studio: per task, the participant's ratings before the
chat, the chat (with each assistant message's tactic), the ratings after, the choice, and the
hindsight reveal (true utility, satisfaction before and after the outcome was revealed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from envs.core.spec import TimelineEvent, json_column
from envs.trials.tactics import TACTICS

PHASE_TITLES = {"pre": "ratings before", "post": "ratings after"}


def _ratings(observation: Mapping[str, Any], ratings: Sequence[Any]) -> str:
    titles = observation.get("option_titles") or [f"option {i}" for i in range(len(ratings))]
    return ", ".join(f"{t}: {r}" for t, r in zip(titles, ratings, strict=False))


def timeline(steps: Sequence[Mapping[str, Any]]) -> list[TimelineEvent]:
    """The episode's trial events in order, one lane per task."""
    events: list[TimelineEvent] = []
    turn = 0
    final: Mapping[str, Any] | None = None
    for row in steps:
        info = json_column(row.get("info")) or {}
        action = json_column(row.get("action"))
        if not isinstance(action, dict):
            if isinstance(info, dict) and info.get("tasks"):
                final = info
            continue
        observation = json_column(row.get("observation")) or {}
        agent = str(row.get("agent", ""))
        lane = f"task {int(observation.get('task', 0)) + 1} ({observation.get('scenario', '?')})"
        phase = info.get("phase") if isinstance(info, dict) else None
        if agent.startswith("user") and phase in PHASE_TITLES:
            ratings = list(action.get("ratings") or [])
            text = _ratings(observation, ratings)
            events.append(TimelineEvent(PHASE_TITLES[phase], lane, agent, text, turn,
                                        {"ratings": ratings}))  # fmt: skip
        elif action.get("message"):
            tactic = action.get("tactic")
            fields: dict[str, Any] = {}
            text = str(action["message"])
            if isinstance(tactic, int) and 0 <= tactic < len(TACTICS):
                fields["tactic"] = TACTICS[tactic]
                text = f"[{TACTICS[tactic]}] {text}"
            events.append(TimelineEvent("message", lane, agent, text, turn, fields))
        turn += 1
    for index, task in enumerate((final or {}).get("tasks") or []):
        measures = task.get("measures") or {}
        lane = f"task {index + 1} ({task.get('scenario', '?')})"
        text = (
            f"chose {task.get('choice')} (hidden option {task.get('hidden')}); true utility "
            f"{measures.get('true_utility')}, satisfaction {measures.get('satisfaction_immediate')}"
            f" before the reveal, {measures.get('satisfaction_hindsight')} after"
        )
        events.append(TimelineEvent("hindsight", lane, "", text, None, {
            "choice": task.get("choice"), "hidden": task.get("hidden"),
            "ratings": task.get("ratings"),
        }))  # fmt: skip
    return events
