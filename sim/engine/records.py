"""What a rollout records: one row per agent turn (steps) and one per episode (episodes).

Rows are gathered column by column (`StepColumns`) so recording costs a few list appends per
step; structured values are stored as JSON text (orjson, numpy-aware) so any environment's
observations, actions and infos fit one schema. The store writes these columns to Parquet.

Reward semantics follow PettingZoo's ``last()``: a row's ``reward`` is what the agent received
since its previous turn, and each agent's final row (``action`` null) carries what came after its
last action; the sum of an agent's rewards over its rows is its episode return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import orjson

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def to_json(value: Any, _dumps: Any = orjson.dumps) -> str:
    """Compact JSON for any observation, action or info (numpy arrays become lists)."""
    return _dumps(value, default=_default, option=_JSON_OPTIONS).decode()


class StepRow(NamedTuple):
    """One agent turn: a row of the steps table (docs/run-directory.md has each column's
    meaning). A tuple with names, so the rollout appends it as cheaply as a plain tuple."""

    episode_id: str
    step: int
    agent: str
    role: str
    observation: str
    observation_text: str | None
    action: str | None
    message: str | None
    reward: float
    terminated: bool
    truncated: bool
    info: str
    policy: str | None
    prompt: str | None = None
    reply: str | None = None
    parse_status: str | None = None
    retries: int | None = None
    fallback: str | None = None
    llm_prompt_tokens: int | None = None
    llm_completion_tokens: int | None = None
    model: str | None = None
    llm_requests: int | None = None
    llm_failed_requests: int | None = None
    llm_failures: str | None = None
    llm_latency_s: float | None = None
    llm_structured: str | None = None
    choice_options: str | None = None
    choice_method: str | None = None
    choice_raw: str | None = None
    choice_scores: str | None = None


STEP_COLUMNS: tuple[str, ...] = StepRow._fields


class StepColumns:
    """The steps table being gathered: one `StepRow` per agent turn.

    Rows are kept as tuples (one append per step, the cheapest thing Python can do) and turned
    into columns only when written.
    """

    def __init__(self) -> None:
        self.rows: list[StepRow] = []

    def add(self, **row: Any) -> None:
        """Append one row by column name; missing columns get None (e.g. LLM columns)."""
        self.rows.append(StepRow._make(row.get(name) for name in STEP_COLUMNS))

    def append(self, row: StepRow) -> None:
        """Append one row (the rollout's path)."""
        self.rows.append(row)

    def extend(self, other: StepColumns) -> None:
        self.rows.extend(other.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def columns(self) -> dict[str, list[Any]]:
        """Column name -> values, transposed from the rows."""
        if not self.rows:
            return {name: [] for name in STEP_COLUMNS}
        return {
            name: list(values)
            for name, values in zip(STEP_COLUMNS, zip(*self.rows, strict=True), strict=True)
        }


@dataclass
class EpisodeRecord:
    """One episode's outcome and costs (a row of the episodes table)."""

    run_id: str
    cell_id: str
    episode_id: str
    episode_index: int
    env_id: str
    params: dict[str, Any]
    seed: int
    roster: dict[str, str]
    metrics: dict[str, float]
    returns: dict[str, float]
    steps: int
    trace: str | None = None
    """A fingerprint of the episode's steps (see `sim.store.runs`); equal traces mean copies."""
    llm_calls: int = 0
    llm_tokens: int = 0
    errors: int = 0
    wall_s: float = 0.0
    llm: dict[str, LLMTally] = field(default_factory=dict)
    """Per model key (the experiment's ``models`` name, or the inline spec): its decisions."""

    def llm_totals(self) -> LLMTally:
        """Every model's tally added up."""
        return total_tally(self.llm.values())


@dataclass
class LLMTally:
    """What one model did in an episode (or a shard, or a run): decisions by path, requests
    sent and failed, billed tokens and their cost (None when the experiment gives no price)."""

    decisions: int = 0
    parsed: int = 0
    reasked: int = 0
    choice: int = 0
    default: int = 0
    requests: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    @property
    def fallbacks(self) -> int:
        """Decisions whose action did not come from a parsed reply (choice or default)."""
        return self.choice + self.default

    @property
    def fallback_rate(self) -> float | None:
        return self.fallbacks / self.decisions if self.decisions else None

    def add(self, other: LLMTally) -> None:
        for name in TALLY_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost

    def as_dict(self) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in TALLY_COUNTS}, "cost": self.cost}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LLMTally:
        return cls(**{k: v for k, v in data.items() if k in (*TALLY_COUNTS, "cost")})


TALLY_COUNTS = (
    "decisions", "parsed", "reasked", "choice", "default", "requests", "failed_requests",
    "prompt_tokens", "completion_tokens",
)  # fmt: skip


def total_tally(tallies: Any) -> LLMTally:
    """Several tallies added up into a new one."""
    total = LLMTally()
    for tally in tallies:
        total.add(tally)
    return total
