"""The environment docstring template (after Gymnasium's), and a check that a class follows it."""

from __future__ import annotations

import inspect
from typing import Any

ENV_DOC_SECTIONS: tuple[str, ...] = (
    "Description",
    "Agents",
    "Observation space",
    "Action space",
    "Rewards",
    "Episode end",
    "Parameters",
    "Metrics",
    "Version history",
)

ENV_DOCSTRING_TEMPLATE = """One line: what world this is and what it studies.

## Description
The situation, who meets whom, and the reference study it follows.

## Agents
`<role>_<n>` names, who moves when.

## Observation space
Dict keys, their spaces and meaning; where the `action_mask` lives.

## Action space
Per role: the space, what each value means, what happens to an invalid action.

## Rewards
Utilities as the reference study defines them.

## Episode end
Termination and truncation (`max_cycles`).

## Parameters
Constructor arguments with defaults and allowed ranges.

## Metrics
Outcome metrics in the final `info`.

## Version history
* v0: initial version.
"""


def _is_heading(line: str, section: str) -> bool:
    """``## Rewards``, ``Rewards`` or ``Rewards:`` on a line of its own (any case)."""
    text = line.strip().lstrip("#").strip().rstrip(":").strip()
    return text.casefold() == section.casefold()


def missing_doc_sections(cls: type | Any) -> list[str]:
    """The `ENV_DOC_SECTIONS` headings absent from the docstring of ``cls`` (or of its type).

    Only the class's own docstring counts, not one inherited from a base class.
    """
    owner = cls if isinstance(cls, type) else type(cls)
    lines = inspect.cleandoc(owner.__dict__.get("__doc__") or "").splitlines()
    return [s for s in ENV_DOC_SECTIONS if not any(_is_heading(line, s) for line in lines)]
