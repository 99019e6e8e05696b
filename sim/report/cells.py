"""Per-cell outcome tables and plots of a run: the mean of each outcome and its 95% interval.

Outcomes are the episodes table's ``metric_*`` columns (from the env's final info) and
``return_*`` columns (each agent's utility). The interval is mean ± t(0.975, n-1)·sd/√n; NaNs
are dropped first, so ``n`` may differ per outcome.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from sim.report.keys import cell_keys, legend
from sim.store.runs import load_episodes

REPORT_COLUMNS = (
    "cell_id", "label", "key", "metric", "n", "mean", "sd", "ci_low", "ci_high", "distinct",
    "copies",
)  # fmt: skip
"""Columns of `build_report` (plus the ``param_*`` columns that vary across cells).

``label`` names a cell's varying parameters and players in full; ``key`` is its short form
(`sim.report.keys`: ``dA=0.8 bob=llm``) for tables and plots.

``distinct`` counts the cell's different episodes (by ``trace``; NaN for runs without traces).
``copies`` marks a cell of several episodes that are all the same episode (greedy players of a
deterministic game): one sample, so it gets no interval."""

LEVEL = 0.95


def t_quantile(dof: int) -> float:
    """The two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.5 + LEVEL / 2, dof))


def mean_interval(values: np.ndarray) -> dict[str, float]:
    """n, mean, sd and the 95% interval of ``values`` (NaNs dropped; sd needs n >= 2)."""
    values = values[~np.isnan(values)]
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    half = t_quantile(n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def build_report(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per (cell, outcome), with the cell's label and the parameters that vary."""
    episodes = load_episodes(run_dir)
    outcomes = [c for c in episodes.columns if c.startswith("metric_")]
    outcomes += [c for c in episodes.columns if c.startswith("return_")]
    varying = _varying_params(episodes)
    labels, keys = _labels(episodes, varying)
    rows = []
    for cell_id, group in episodes.groupby("cell_id", sort=True):
        setting = {name: group[name].iloc[0] for name in varying}
        distinct = _distinct_episodes(group)
        copies = len(group) > 1 and distinct == 1
        for column in outcomes:
            values = pd.to_numeric(group[column], errors="coerce").to_numpy(float, na_value=np.nan)
            metric = column.removeprefix("metric_")
            stats = mean_interval(values)
            if copies:
                stats |= {"ci_low": math.nan, "ci_high": math.nan}
            rows.append(
                {"cell_id": cell_id, "label": labels[cell_id], "key": keys[cell_id]}
                | setting
                | {"metric": metric}
                | stats
                | {"distinct": distinct, "copies": copies}
            )
    columns = ["cell_id", "label", "key", *varying, *REPORT_COLUMNS[3:]]
    return pd.DataFrame(rows, columns=columns)


def _distinct_episodes(group: pd.DataFrame) -> float:
    """How many different episodes a cell holds (NaN when some have no trace)."""
    if "trace" not in group or group["trace"].isna().any():
        return math.nan
    return float(group["trace"].nunique())


def _varying_params(episodes: pd.DataFrame) -> list[str]:
    cells = episodes.drop_duplicates("cell_id")
    params = [c for c in episodes.columns if c.startswith("param_")]
    return [c for c in params if cells[c].astype(str).nunique() > 1]


def _labels(episodes: pd.DataFrame, varying: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Each cell as its varying parameters and the players that differ between cells: in full
    (the label) and as a short key."""
    cells = episodes.drop_duplicates("cell_id").set_index("cell_id")
    rosters = {cell_id: json.loads(text) for cell_id, text in cells["roster"].items()}
    agents = sorted({agent for roster in rosters.values() for agent in roster})
    differing = [a for a in agents if len({str(r.get(a)) for r in rosters.values()}) > 1]
    labels = {}
    for cell_id, row in cells.iterrows():
        parts = [f"{name.removeprefix('param_')}={row[name]}" for name in varying]
        parts += [f"{agent}={rosters[cell_id].get(agent)}" for agent in differing]
        labels[cell_id] = ", ".join(parts) or str(cell_id)
    keys, _ = cell_keys(
        {c: {n.removeprefix("param_"): row[n] for n in varying} for c, row in cells.iterrows()},
        {cell: {a: str(rosters[cell].get(a)) for a in differing} for cell in cells.index},
    )
    return labels, keys


def key_legend(report: pd.DataFrame) -> dict[str, str]:
    """Abbreviation -> parameter name for the keys of ``report`` (`build_report`'s)."""
    return legend(c.removeprefix("param_") for c in report.columns if c.startswith("param_"))


LLM_COLUMNS = (
    "cell_id", "model", "decisions", "parsed", "reasked", "choice", "default", "fallback_rate",
    "requests", "failed_requests", "prompt_tokens", "completion_tokens", "cost", "high_fallback",
)  # fmt: skip
"""Columns of `build_llm_report`: per cell and model, the share of LLM decisions by path."""


def build_llm_report(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Per (cell, model): LLM decisions by path (shares), failed requests, billed tokens, cost.

    ``high_fallback`` marks rows whose fallback share (constrained choice plus default) exceeds
    the experiment's ``max_fallback_rate`` for that model, so nobody reads defaults as model
    behaviour.
    """
    from sim.engine.fallbacks import tallies_of
    from sim.store.runs import read_manifest

    episodes = load_episodes(run_dir)
    limit = (read_manifest(run_dir).experiment or {}).get("max_fallback_rate", 0.5)
    rows = []
    if "llm_by_model" in episodes:
        for cell_id, group in episodes.groupby("cell_id", sort=True):
            for model, tally in sorted(tallies_of(group["llm_by_model"]).items()):
                if not tally.decisions:
                    continue
                share = {p: getattr(tally, p) / tally.decisions for p in LLM_COLUMNS[3:7]}
                rate = tally.fallback_rate
                cap = limit.get(model, 0.5) if isinstance(limit, dict) else limit
                rows.append(
                    {"cell_id": cell_id, "model": model, "decisions": tally.decisions, **share}
                    | {"fallback_rate": rate, "requests": tally.requests}
                    | {"failed_requests": tally.failed_requests}
                    | {"prompt_tokens": tally.prompt_tokens}
                    | {"completion_tokens": tally.completion_tokens, "cost": tally.cost}
                    | {"high_fallback": rate is not None and rate > cap}
                )
    return pd.DataFrame(rows, columns=list(LLM_COLUMNS))


def copied_cells(report: pd.DataFrame) -> list[str]:
    """Cells whose episodes are all one episode repeated (no interval is given for them)."""
    if "copies" not in report:
        return []
    return sorted(report.loc[report["copies"].astype(bool), "cell_id"].unique())


def write_report(
    run_dir: str | os.PathLike[str],
    report: pd.DataFrame | None = None,
    into: str | os.PathLike[str] | None = None,
    *,
    shown: pd.DataFrame | None = None,
    per_metric: bool = False,
) -> list[Path]:
    """Write ``report.csv`` (every cell and outcome), ``llm_report.csv`` (runs with LLM players)
    and ``plots/report.png`` (one faceted figure of ``shown``, default the whole report) into
    ``into`` (default: the run directory; a run on object storage needs a local ``into``);
    with ``per_metric`` also one ``plots/<outcome>.png`` per outcome. Returns the paths."""
    from sim.report.plots import metric_file_name, metric_png, write_facets

    path = Path(into if into is not None else run_dir)
    path.mkdir(parents=True, exist_ok=True)
    report = build_report(run_dir) if report is None else report
    shown = report if shown is None else shown
    csv = path / "report.csv"
    report.to_csv(csv, index=False)
    written = [csv]
    llm = build_llm_report(run_dir)
    if not llm.empty:
        llm.to_csv(path / "llm_report.csv", index=False)
        written.append(path / "llm_report.csv")
    if shown.empty:
        return written
    (path / "plots").mkdir(exist_ok=True)
    written.append(write_facets(shown, path / "plots" / "report.png"))
    if per_metric:
        for metric in shown["metric"].unique():
            png = path / "plots" / metric_file_name(metric)
            metric_png(shown, str(metric), path=png)
            written.append(png)
    return written
