"""The market's episode timeline for the studio: per customer, its searches, messages,
proposals and payments (from the recorded actions), each with the outcome the env reported
(the acting agent's next ``info["last_action"]``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from envs.core.spec import TimelineEvent, json_column
from envs.marketplace.actions import KINDS

SHOWN = ("search", "message", "propose", "pay", "end")


def _ids(values: Any) -> list[int]:
    return [int(v) for v in (values or []) if isinstance(v, int | float) and v >= 0]


def _event(row: Mapping[str, Any], action: Mapping[str, Any], turn: int) -> TimelineEvent | None:
    kind = KINDS[int(action.get("kind", 0))] if 0 <= int(action.get("kind", 0)) < len(KINDS) else ""
    if kind not in SHOWN:
        return None
    agent = str(row.get("agent", ""))
    to = _ids(action.get("to"))
    customer = agent.startswith("customer")
    lane = agent if customer else (f"customer_{to[0]}" if to else agent)
    fields: dict[str, Any] = {"kind": kind}
    if kind == "search":
        text = f"searched {action.get('query', '')!r}"
    elif kind == "message":
        who = ", ".join(f"{'business' if customer else 'customer'}_{i}" for i in to) or "nobody"
        text = f"to {who}: {action.get('text', '')}"
    elif kind == "propose":
        items = _ids(action.get("items"))
        total = (action.get("total") or [0.0])[0]
        text = f"proposed items {items} for {float(total):.2f}"
        fields |= {"items": items, "total": total}
    elif kind == "pay":
        proposal = _ids(action.get("proposal"))
        text = f"paid proposal {proposal[0] if proposal else '?'}"
    else:
        text = "ended its session"
    return TimelineEvent(kind, lane, agent, text, turn, fields)


def timeline(steps: Sequence[Mapping[str, Any]]) -> list[TimelineEvent]:
    """The episode's market events in order; a failed action says why (its status detail)."""
    events: list[TimelineEvent] = []
    pending: dict[str, int] = {}
    turn = 0
    for row in steps:
        agent = str(row.get("agent", ""))
        info = json_column(row.get("info"))
        last = info.get("last_action") if isinstance(info, dict) else None
        if agent in pending and isinstance(last, dict) and last.get("status") not in (None, "ok"):
            at = pending.pop(agent)
            old = events[at]
            why = f" (failed: {last.get('status')} {last.get('detail', '')})".rstrip()
            events[at] = TimelineEvent(old.kind, old.lane, old.actor, old.text + why, old.turn,
                                       {**old.fields, "status": last.get("status")})  # fmt: skip
        pending.pop(agent, None)
        action = json_column(row.get("action"))
        if not isinstance(action, dict):
            continue
        event = _event(row, action, turn)
        turn += 1
        if event is not None:
            pending[agent] = len(events)
            events.append(event)
    return events
