"""What an environment declares about itself beyond its code: the `EnvSpec` parts that the
engine, reports, exports and the single-agent views read, so that `sim` needs no family names.

A family passes these to `envs.core.registry.register_env`; everything here is plain data (no
imports of the layers above `envs`): policies are named by their registry names, study numbers
are values, and functions are named by ``"module:attribute"`` strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ViewSpec:
    """A single-agent Gymnasium view ``mercato/<name>``: ``learner`` acts, every other agent is
    seated with the policy its role names in ``opponents`` (role -> registered policy name)."""

    name: str
    learner: str
    opponents: Mapping[str, str]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyMeasure:
    """A measure of a study-form table, read from the episode metrics ``<name>_<phase>``."""

    name: str
    title: str
    scale: float = 1.0
    unit: str = ""


@dataclass(frozen=True)
class StudyForm:
    """How a reference study reported its results, so `mercato report` prints a run's numbers
    in the same form next to the published ones.

    Rows group episodes by the env parameters ``group_by`` (titled ``group_titles``, sorted
    by ``order`` where given); each measure is shown per phase with a 95% interval over
    episodes; ``published`` holds the study's values per group, measure and phase."""

    source: str
    group_by: tuple[str, ...]
    group_titles: tuple[str, ...]
    measures: tuple[StudyMeasure, ...]
    phases: tuple[str, ...] = ("pre", "post")
    published: Mapping[tuple[str, ...], Mapping[str, tuple[float, ...]]] = field(
        default_factory=dict
    )
    order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcomes:
    """Outcomes revealed after a decision (the trial's hindsight), for ranking decisions in
    exports: the episode's final ``info[tasks]`` lists per task its ``measures``; the
    decision's task is its observation's ``task`` field. ``keys`` maps ranking key -> measure;
    ``default`` is the key exports rank by unless told otherwise; ``hindsight`` the keys
    measured after the outcome was revealed (the others were reported before it)."""

    keys: Mapping[str, str]
    default: str
    hindsight: tuple[str, ...] = ()
    tasks_field: str = "tasks"
    task_key: str = "task"


@dataclass(frozen=True)
class TimelineEvent:
    """One event of a family's episode timeline (a market's search, message, proposal or
    payment; a trial's ratings before and after, its hindsight reveal), as the studio shows it.

    An EnvSpec's ``timeline`` names a ``"module:function"`` taking the episode's step rows as
    plain dicts (the steps table's columns, ``observation``/``action``/``info`` still JSON text)
    and returning these events in order. ``lane`` groups events (a customer, a task); ``turn``
    is the index of the step row it came from (links it to that turn), or None."""

    kind: str
    lane: str
    actor: str
    text: str
    turn: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


def json_column(text: Any) -> Any:
    """A step row's JSON column (``observation``, ``action``, ``info``) as data; None for an
    empty or unreadable value (a timeline shows what it can)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
