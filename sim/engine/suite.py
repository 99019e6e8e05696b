"""Suites: one YAML that names several experiments (e.g. one per game), run into one folder.

An experiment has one environment; a study across environments is a suite::

    name: glee
    suite: [glee/bargaining.yaml, glee/negotiation.yaml, glee/persuasion.yaml]  # relative paths

`mercato run SUITE.yaml` validates every member first (nothing runs if one is invalid), then plays
them in order into ``OUT/<experiment name>``; `mercato report OUT` reports each member.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.engine.experiment import Experiment, ExperimentError, load_experiment


def suite_members(path: str | Path) -> list[Path] | None:
    """The member files of a suite YAML, or None when ``path`` is a plain experiment."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None  # not a readable suite: let the experiment loader report it
    if not isinstance(data, dict) or "suite" not in data:
        return None
    unknown = sorted(set(data) - {"name", "suite"})
    if unknown:
        raise ExperimentError(f"{path}: a suite has only 'name' and 'suite'; unknown: {unknown}")
    members = data["suite"]
    if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
        raise ExperimentError(f"{path}: suite: expected a non-empty list of experiment files")
    return [path.parent / member for member in members]


def suite_name(path: str | Path) -> str:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return str(data.get("name") or Path(path).stem)


def load_suite(path: str | Path) -> list[Experiment]:
    """Every member experiment, validated; errors name the member file."""
    experiments = []
    for member in suite_members(path) or []:
        try:
            experiments.append(load_experiment(member))
        except ExperimentError as error:
            raise ExperimentError(f"{member}: {error}") from None
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ExperimentError(f"{path}: member experiments need distinct names, got {names}")
    return experiments


def run_suite(path: str | Path, out: str | Path | None = None, **options: Any) -> list[Path]:
    """Play every member of a suite into ``out/<name>``; returns their run directories."""
    from sim.engine.batch import run

    experiments = load_suite(path)
    root = Path(out) if out else Path("runs") / suite_name(path)
    return [run(e, out=root / e.name, **options) for e in experiments]
