"""Dataset cards: what an export holds, how it was selected, and the run it came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from sim.export.decisions import RunData

HF_CONFIGS = [
    {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
]


def dataset_card(
    run: RunData,
    *,
    title: str,
    summary: str,
    rows: int,
    columns: Mapping[str, str],
    selection: list[str],
    options: Mapping[str, Any],
    front_matter: Mapping[str, Any] | None = None,
    usage: str = "",
) -> str:
    """A README.md: YAML front matter, then format, columns, selection, source and experiment."""
    lines = []
    if front_matter is not None:
        lines += ["---", _yaml(dict(front_matter)).rstrip(), "---", ""]
    lines += [f"# {title}", "", summary, "", f"Rows: {rows}", ""]
    if columns:
        lines += ["## Columns", "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{name}` | {meaning} |" for name, meaning in columns.items()]
        lines.append("")
    lines += ["## Selection", ""]
    lines += [f"- {item}" for item in selection]
    given = {k: v for k, v in options.items() if v not in (None, False)}
    lines += [f"- export options: `{given}`" if given else "- export options: defaults", ""]
    if usage:
        lines += ["## Loading", "", "```python", usage.strip(), "```", ""]
    manifest = run.manifest
    source = {
        "run_id": run.run_id,
        "run_dir": str(run.path),
        "env": run.env_id,
        "status": manifest.status,
        "episodes": len(run.episodes),
        "git_commit": manifest.git_commit,
        "versions": manifest.versions,
    }
    lines += ["## Source run", "", "```yaml", _yaml(source).rstrip(), "```", ""]
    experiment = manifest.experiment
    if experiment:
        lines += [
            "## Generating experiment",
            "",
            f"The experiment `{run.name}` as resolved by mercato (`mercato run` reads it back):",
            "",
            "```yaml",
            _yaml(experiment).rstrip(),
            "```",
            "",
        ]
    return "\n".join(lines)


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
