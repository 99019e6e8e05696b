"""An episode turn by turn: who acted, the observation text it saw, its reply, the parsed
action, how the action was reached (parsed / re-asked / constrained choice / default / human /
scripted) with raw replies and errors, rewards and running returns, and the final metrics.

Family-specific timelines (a market's searches and payments, a trial's ratings) come from the
env's `EnvSpec.timeline` entry point; this module only renders what it returns.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sim.studio.run_page import run_data
from sim.studio.security import admin_only, not_found

PATH_TITLES = {
    "parsed": "parsed",
    "reasked": "re-asked, then parsed",
    "choice": "constrained choice (fallback)",
    "default": "safe default (fallback)",
    "human": "human",
    "scripted": "scripted policy",
}


@dataclass(frozen=True)
class Turn:
    """One decision of the episode (a step row with an action), ready to show."""

    index: int
    step: int
    agent: str
    role: str
    policy: str
    path: str
    observation_text: str
    observation: str
    """The structured observation, pretty JSON (shown when no text was rendered)."""
    action: str
    message: str
    reward: float
    returns: dict[str, float]
    """Each agent's return so far (rewards up to and including this row)."""
    prompt: list[dict[str, str]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    """The LLM record: model, retries, fallback, tokens, latency, choice options and scores."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Metrics the env's info held at this turn (running metrics, where it reports them)."""


@dataclass(frozen=True)
class Replay:
    """A whole episode: its turns and the agents' final returns and metrics (the family's
    timeline comes separately, from `family_timeline`)."""

    episode_id: str
    turns: list[Turn]
    returns: dict[str, float]
    metrics: dict[str, Any]


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def _json(text: Any) -> Any:
    text = _text(text)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pretty(text: Any) -> str:
    value = _json(text)
    if value is None:
        return ""
    return json.dumps(value, indent=1, ensure_ascii=False) if not isinstance(value, str) else value


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def decision_path(row: dict[str, Any]) -> str:
    """How a turn's action was reached: the LLM's parse status, ``human`` or ``scripted``."""
    status = _text(row.get("parse_status"))
    if status:
        return status
    policy = _text(row.get("policy"))
    return "human" if policy.startswith("human") else "scripted"


def _as_list(value: Any) -> list[Any]:
    value = _json(value)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _prompt(value: Any) -> list[dict[str, str]]:
    messages = _as_list(value)
    shown = []
    for message in messages:
        if isinstance(message, dict):
            shown.append(
                {"role": str(message.get("role", "")), "content": _text(message.get("content"))}
            )
        else:
            shown.append({"role": "", "content": str(message)})
    return shown


LLM_DETAILS = (
    "model", "retries", "fallback", "llm_requests", "llm_failed_requests", "llm_prompt_tokens",
    "llm_completion_tokens", "llm_latency_s", "llm_structured", "choice_method", "choice_options",
    "choice_raw", "choice_scores",
)  # fmt: skip


def build_replay(steps: list[dict[str, Any]], episode: dict[str, Any] | None) -> Replay:
    """The episode's turns from its step rows (in step order) and its episodes-table row."""
    returns: dict[str, float] = {}
    turns = []
    for row in steps:
        agent = _text(row.get("agent"))
        returns[agent] = returns.get(agent, 0.0) + _number(row.get("reward"))
        if _text(row.get("action")) == "":
            continue  # an agent's final row: only its last reward
        observation = _json(row.get("observation"))
        text = _text(row.get("observation_text"))
        if not text and isinstance(observation, dict) and isinstance(observation.get("text"), str):
            text = observation["text"]
        info = _json(row.get("info"))
        details = {name: row.get(name) for name in LLM_DETAILS if _text(row.get(name)) != ""}
        turns.append(
            Turn(
                index=len(turns),
                step=int(row.get("step") or 0),
                agent=agent,
                role=_text(row.get("role")),
                policy=_text(row.get("policy")),
                path=decision_path(row),
                observation_text=text,
                observation=_pretty(row.get("observation")),
                action=_pretty(row.get("action")),
                message=_text(row.get("message")),
                reward=_number(row.get("reward")),
                returns=dict(returns),
                prompt=_prompt(row.get("prompt")),
                replies=[_text(r) for r in _as_list(row.get("reply"))],
                failures=[_text(f) for f in _as_list(row.get("llm_failures"))],
                details=details,
                metrics=dict(info.get("metrics") or {}) if isinstance(info, dict) else {},
            )
        )
    episode = episode or {}
    metrics = {k.removeprefix("metric_"): v for k, v in episode.items() if k.startswith("metric_")}
    finals = {k.removeprefix("return_"): v for k, v in episode.items() if k.startswith("return_")}
    episode_id = _text(steps[0]["episode_id"]) if steps else _text(episode.get("episode_id"))
    return Replay(episode_id, turns, finals or returns, metrics)


def family_timeline(env_id: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events the env's `EnvSpec.timeline` returns for these rows ([] when it has none)."""
    from envs.core.registry import spec_of

    try:
        entry = spec_of(env_id).timeline
    except ValueError:
        return []
    if not entry:
        return []
    module, _, name = entry.partition(":")
    function = getattr(importlib.import_module(module), name)
    return [asdict(event) for event in function(steps)]


def episode_view(request: Request) -> Response:
    """``/runs/{path}/episodes/{episode_id}``: the replay page."""
    from sim.studio.pages import render

    data, _ = run_data(request, request.path_params["run"])
    episode_id = request.path_params["episode_id"]
    steps = data.steps
    rows = steps[steps["episode_id"] == episode_id]
    if rows.empty:
        raise not_found()
    episodes = data.episodes[data.episodes["episode_id"] == episode_id]
    episode = _records(episodes)[0] if not episodes.empty else None
    step_rows = _records(rows.sort_values("step", kind="stable"))
    replay = build_replay(step_rows, episode)
    env_id = _text((episode or {}).get("env_id")) or _text(data.manifest.env)
    timeline, error = [], None
    try:
        timeline = family_timeline(env_id, step_rows)
    except Exception as failure:  # a family's timeline bug must not hide the turns
        error = f"{type(failure).__name__}: {failure}"
    ids = list(data.episodes["episode_id"])
    at = ids.index(episode_id) if episode_id in ids else -1
    return render(
        request,
        "episode.html",
        rel=request.app.state.paths.relative(data.location),
        manifest=data.manifest,
        episode=episode or {},
        replay=replay,
        timeline=timeline,
        timeline_error=error,
        path_titles=PATH_TITLES,
        previous=ids[at - 1] if at > 0 else None,
        following=ids[at + 1] if 0 <= at < len(ids) - 1 else None,
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (None for missing)."""
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def routes() -> list[Route]:
    return [
        Route("/runs/{run:path}/episodes/{episode_id}", admin_only(episode_view), name="episode")
    ]
