"""A run read back as decisions: who acted, what they saw and answered, and how it turned out.

Every exporter starts here. A `Decision` is one steps-table row with an action, joined with the
episode's return for that agent; LLM turns also carry their chat prompt and the reply that was
parsed. For the manipulation trial each decision also gets its task's outcomes as revealed after
the episode (hindsight satisfaction, true utility), which is what RLHS-style pairs rank by.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from envs.core.names import role_of
from envs.core.registry import spec_of
from envs.core.spec import Outcomes
from sim.export.errors import ExportError
from sim.store.manifest import Manifest

FROM_REPLY = ("parsed", "reasked")
HUMAN_STATUS = "human"
"""Parse statuses whose action came from the model's own text (the last reply)."""


@dataclass(frozen=True)
class Decision:
    """One agent turn with an action. ``parse_status`` is None for players that are not LLMs."""

    episode_id: str
    cell_id: str
    step: int
    agent: str
    role: str
    policy: str
    observation: str
    action: str
    prompt: list[dict[str, str]] | None
    reply: str | None
    parse_status: str | None
    episode_return: float
    outcomes: Mapping[str, float] = field(default_factory=dict)

    @property
    def is_llm(self) -> bool:
        """A language model's decision (a person's, played in the studio, has status "human")."""
        return self.parse_status is not None and self.parse_status != HUMAN_STATUS

    @property
    def from_reply(self) -> bool:
        """Whether the action is the parse of the model's reply (not a choice or a default)."""
        return self.parse_status in FROM_REPLY and self.reply is not None


@dataclass
class RunData:
    """A run's manifest, tables and decisions, loaded once and shared by the exporters."""

    path: Path
    manifest: Manifest
    episodes: pd.DataFrame
    steps: pd.DataFrame
    decisions: list[Decision]

    @property
    def env_id(self) -> str:
        return self.manifest.env or ""

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def name(self) -> str:
        return self.manifest.name

    @cached_property
    def cells(self) -> dict[str, dict[str, Any]]:
        """cell_id -> the manifest's cell (``params``, ``roster``)."""
        return {cell["cell_id"]: cell for cell in self.manifest.cells}

    @cached_property
    def agents(self) -> list[str]:
        """Every agent seated in the run, from the manifest's rosters."""
        return sorted({agent for cell in self.cells.values() for agent in cell.get("roster", {})})

    @property
    def roles(self) -> list[str]:
        return sorted({role_of(agent) for agent in self.agents})

    @cached_property
    def outcomes(self) -> Outcomes | None:
        """The outcomes revealed after a decision that the env's spec declares (the trial's
        hindsight), or None (also for an env whose family is not imported here)."""
        try:
            return spec_of(self.env_id).outcomes
        except ValueError:
            return None

    @property
    def outcome_keys(self) -> dict[str, str]:
        """Ranking key -> per-task measure, for envs that reveal outcomes after a decision."""
        return dict(self.outcomes.keys) if self.outcomes else {}

    def revealed_after(self, key: str) -> bool:
        """Whether ranking key ``key`` was measured after the outcome was revealed."""
        return self.outcomes is not None and key in self.outcomes.hindsight

    @property
    def default_rank_by(self) -> str:
        """The env's own ranking (the trial's hindsight, RLHS), the agent's return otherwise."""
        return self.outcomes.default if self.outcomes else "return"

    @cached_property
    def rank_keys(self) -> list[str]:
        """What decisions can be ranked by in this run."""
        metrics = [c for c in self.episodes.columns if c.startswith("metric_")]
        return ["return", *self.outcome_keys, *metrics]

    @cached_property
    def _metrics(self) -> dict[str, dict[str, float | None]]:
        columns = [c for c in self.episodes.columns if c.startswith("metric_")]
        table = self.episodes.set_index("episode_id")[columns]
        return {column: {k: _number(v) for k, v in table[column].items()} for column in columns}

    def check_rank_by(self, rank_by: str | None) -> str:
        """``rank_by`` (or the run's default) after checking it is known here."""
        key = rank_by or self.default_rank_by
        if key not in self.rank_keys:
            named = [k for k in self.rank_keys if not k.startswith("metric_")]
            metrics = [k for k in self.rank_keys if k.startswith("metric_")]
            raise ExportError(
                f"rank_by {key!r} is unknown for {self.env_id}; allowed: {named}"
                + (f" or an episode metric {metrics}" if metrics else "")
            )
        return key

    def outcome(self, decision: Decision, rank_by: str) -> float | None:
        """The decision's outcome under ``rank_by`` (None when the run did not record it)."""
        if rank_by == "return":
            return decision.episode_return
        if rank_by in self.outcome_keys:
            return decision.outcomes.get(rank_by)
        return self._metrics[rank_by].get(decision.episode_id)

    def select(
        self,
        agents: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
        cells: Sequence[str] | None = None,
    ) -> list[Decision]:
        """Decisions of the given agents, roles and cells (all when None), names checked."""
        _check_names("agent", agents, self.agents)
        _check_names("role", roles, self.roles)
        _check_names("cell", cells, sorted(self.cells))
        return [
            d
            for d in self.decisions
            if (agents is None or d.agent in agents)
            and (roles is None or d.role in roles)
            and (cells is None or d.cell_id in cells)
        ]


def load_run(run: str | os.PathLike[str] | RunData) -> RunData:
    """The run at ``run`` as `RunData` (a `RunData` passes through)."""
    if isinstance(run, RunData):
        return run
    from sim.store.runs import load, read_manifest

    path = Path(run)
    try:
        manifest = read_manifest(path)
    except ValueError as error:
        raise ExportError(str(error)) from None
    episodes, steps = load(path)
    if episodes.empty:
        raise ExportError(f"{path}: run {manifest.run_id} has no finished episodes yet")
    data = RunData(path, manifest, episodes, steps, [])
    data.decisions = list(_decisions(data))
    return data


def _decisions(run: RunData) -> Iterable[Decision]:
    episodes = run.episodes.set_index("episode_id")
    returns = {
        column[len("return_") :]: {k: _number(v) for k, v in episodes[column].items()}
        for column in episodes.columns
        if column.startswith("return_")
    }
    finished = set(episodes.index)
    steps = run.steps[run.steps["episode_id"].isin(finished)]
    outcomes = run.outcomes
    tasks = _episode_tasks(steps, outcomes) if outcomes else {}
    columns = ["episode_id", "step", "agent", "role", "policy", "observation", "action",
               "prompt", "reply", "parse_status"]  # fmt: skip
    acted = steps[steps["action"].notna()][columns]
    for row in acted.itertuples(index=False):
        values = [None if _missing(v) else v for v in row]
        episode_id, step, agent, role, policy, observation, action, prompt, reply, status = values
        replies = orjson.loads(reply) if reply else []
        revealed = (
            _task_outcomes(tasks.get(episode_id), observation, outcomes)
            if tasks and outcomes
            else {}
        )
        yield Decision(
            episode_id=episode_id,
            cell_id=str(episodes.at[episode_id, "cell_id"]),
            step=int(step),
            agent=agent,
            role=role or role_of(agent),
            policy=policy or "",
            observation=observation or "null",
            action=action,
            prompt=orjson.loads(prompt) if prompt else None,
            reply=replies[-1] if replies and status in FROM_REPLY else None,
            parse_status=status,
            episode_return=returns.get(agent, {}).get(episode_id) or 0.0,
            outcomes=revealed,
        )


def _episode_tasks(steps: pd.DataFrame, outcomes: Outcomes) -> dict[str, list[dict[str, float]]]:
    """episode_id -> each task's measures, from the episode's final ``info[tasks]``."""
    out: dict[str, list[dict[str, float]]] = {}
    final = steps[steps["action"].isna() & steps["info"].notna()]
    for episode_id, info in zip(final["episode_id"], final["info"], strict=True):
        if episode_id in out:
            continue
        tasks = orjson.loads(info).get(outcomes.tasks_field) if info.startswith("{") else None
        if tasks:
            out[episode_id] = [task.get("measures", {}) for task in tasks]
    return out


def _task_outcomes(
    tasks: list[dict[str, float]] | None, observation: str | None, outcomes: Outcomes
) -> dict:
    """The outcomes revealed afterwards of the task a decision was made in."""
    if not tasks or not observation:
        return {}
    index = int(orjson.loads(observation).get(outcomes.task_key, 0))
    if not 0 <= index < len(tasks):
        return {}
    measures = tasks[index]
    return {key: float(measures[name]) for key, name in outcomes.keys.items() if name in measures}


def _check_names(kind: str, given: Sequence[str] | None, known: list[str]) -> None:
    unknown = [name for name in given or () if name not in known]
    if unknown:
        raise ExportError(f"unknown {kind}(s) {unknown}; this run has {known}")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    return None if _missing(value) else float(value)
