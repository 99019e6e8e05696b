"""Do the presets still play the same episodes? Run in two checkouts, then compare.

    cd <checkout> && python /path/to/tools/presets_equal.py play OUT.json [--scripted]
    python tools/presets_equal.py compare A.json B.json

``play`` runs every experiment in ``experiments/`` of the checkout in the current directory (not
the installed mercato) at a small slice: the first two values of each grid key, the first two
extra cells, two episodes each, in-process, LLM seats on the fake model. With ``--scripted``
LLM seats get scripted players instead, since the fake model's replies depend on the prompt's
text, which may change while the env's behaviour does not. It writes per episode the metrics
and returns, and every turn's (agent, action, reward). ``compare`` says which presets differ.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

SCRIPTED = {
    "customer": "marketplace/careful",
    "assistant": "trials/assistant",
    "user": "trials/parametric",
    "alice": "bargaining/equilibrium",
    "bob": "bargaining/equilibrium",
}


def _seats(roster: dict[str, Any], models: dict[str, Any], scripted: bool) -> dict[str, Any]:
    seated = {}
    for key, entry in roster.items():
        policy = entry.get("policy") if isinstance(entry, dict) else entry
        if policy == "llm" and scripted:
            seated[key] = SCRIPTED[key]
        elif isinstance(entry, dict) and isinstance(entry.get("model"), str):
            seated[key] = entry if entry["model"] in models else {**entry, "model": "fake"}
        else:
            seated[key] = entry
    return seated


def small(data: dict[str, Any], scripted: bool) -> dict[str, Any]:
    """The preset cut to a slice that plays in seconds."""
    data = dict(data)
    data["episodes"] = min(int(data.get("episodes", 2)), 2)
    data["models"] = dict.fromkeys(data.get("models", {}), "fake")
    data["max_fallback_rate"] = 1.0
    data.pop("price_per_1k", None)
    data["roster"] = _seats(data.get("roster", {}), data["models"], scripted)
    cells = []
    for cell in data.get("cells", [])[:2]:
        roster = cell.get("roster")
        cells.append(
            {**cell, "roster": _seats(roster, data["models"], scripted)} if roster else cell
        )
    if cells:
        data["cells"] = cells
    data["grid"] = {key: values[:2] for key, values in data.get("grid", {}).items()}
    return data


def _number(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 9) if isinstance(value, int | float) else value


def play(path: Path, scripted: bool) -> dict[str, Any] | None:
    """What the preset's episodes did (None for a suite: its members are listed on their own)."""
    import yaml

    import sim

    raw = yaml.safe_load(path.read_text())
    if "env" not in raw:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = sim.run(small(raw, scripted), workers=0, out=Path(tmp) / "run")
        episodes, steps = sim.store.load(out)
    result = {}
    for row in episodes.sort_values("episode_id").to_dict("records"):
        keys = sorted(k for k in row if k.startswith(("metric_", "return_")) and "_llm_" not in k)
        turns = steps[steps["episode_id"] == row["episode_id"]].sort_values("step")
        result[row["episode_id"]] = {
            "outcome": {k: _number(row[k]) for k in keys},
            "turns": [
                [agent, json.loads(action) if isinstance(action, str) else None, _number(reward)]
                for agent, action, reward in zip(
                    turns["agent"], turns["action"], turns["reward"], strict=True
                )
            ],
        }
    return result


def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
    """Print one line per preset; the number of presets that differ."""
    differ, total = 0, 0
    for name in sorted(a):
        count = len(a[name] or {})
        total += count
        if a[name] == b.get(name):
            print(f"equal    {name}: {count} episodes")
            continue
        changed = [e for e in a[name] if a[name][e] != (b.get(name) or {}).get(e)]
        print(f"DIFFERS  {name}: {len(changed)} of {count} episodes")
        differ += 1
    print(f"episodes compared: {total}; presets that differ: {differ}")
    return differ


def main(argv: list[str]) -> int:
    if argv[:1] == ["compare"] and len(argv) == 3:
        return (
            1
            if compare(json.loads(Path(argv[1]).read_text()), json.loads(Path(argv[2]).read_text()))
            else 0
        )
    if argv[:1] == ["play"] and len(argv) in (2, 3):
        sys.path.insert(0, os.getcwd())  # the checkout here, not the installed mercato
        scripted = argv[2:] == ["--scripted"]
        presets = sorted(Path("experiments").rglob("*.yaml"))
        out = {str(p): play(p, scripted) for p in presets}
        Path(argv[1]).write_text(json.dumps(out, sort_keys=True, default=str))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
