"""A run's results in the form its reference study reported them, for envs whose `EnvSpec`
declares a `StudyForm` (the manipulation trial: HOD and hidden-preferred share before and after
the conversation, per domain and assistant type, next to Sabour et al.'s numbers).

The unit is the episode (one simulated participant, averaged over its tasks), so the 95%
intervals account for a participant's tasks being correlated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from envs.core.spec import StudyForm
from sim.report.cells import mean_interval


def _cell(values: pd.Series) -> tuple[float, float, float]:
    stats = mean_interval(pd.to_numeric(values, errors="coerce").to_numpy(float))
    return stats["mean"], stats["ci_low"], stats["ci_high"]


def study_table(episodes: pd.DataFrame, form: StudyForm) -> pd.DataFrame:
    """One row per group (the form's parameters): each measure per phase with its interval,
    the episodes, and the study's values (``study_<measure>_<phase>``) where it published them."""
    rows = []
    keys = [f"param_{name}" for name in form.group_by]
    for group, members in episodes.groupby(keys, sort=False):
        group = tuple(str(value) for value in group)
        row: dict[str, object] = dict(zip(form.group_titles, group, strict=True))
        row["participants"] = len(members)
        published = form.published.get(group, {})
        for measure in form.measures:
            for index, phase in enumerate(form.phases):
                mean, low, high = _cell(members[f"metric_{measure.name}_{phase}"])
                row[f"{measure.name}_{phase}"] = mean
                row[f"{measure.name}_{phase}_ci"] = (low, high)
                if measure.name in published:
                    row[f"study_{measure.name}_{phase}"] = published[measure.name][index]
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    sort = []
    for name, title in zip(form.group_by, form.group_titles, strict=True):
        order = form.order.get(name)
        if order is not None:
            table[f"_{title}"] = table[title].map({v: i for i, v in enumerate(order)}).fillna(99)
            sort.append(f"_{title}")
        else:
            sort.append(title)
    ranked = table.sort_values(sort).drop(columns=[c for c in sort if c.startswith("_")])
    return ranked.reset_index(drop=True)


def formatted(table: pd.DataFrame, form: StudyForm) -> pd.DataFrame:
    """The study-form table as text: each measure per phase as "mean ± half-interval", then the
    study's values as "pre → post"."""
    out = pd.DataFrame({title: table[title] for title in form.group_titles})
    out["n"] = table["participants"]
    for measure in form.measures:
        scale, unit = measure.scale, measure.unit
        for phase in form.phases:
            out[f"{measure.title} {phase}"] = [
                f"{mean * scale:.2f}{unit} ± {(high - low) / 2 * scale:.2f}"
                for mean, (low, high) in zip(
                    table[f"{measure.name}_{phase}"],
                    table[f"{measure.name}_{phase}_ci"],
                    strict=True,
                )
            ]
        columns = [f"study_{measure.name}_{phase}" for phase in form.phases]
        if all(column in table for column in columns):
            out[f"study {measure.title}"] = [
                "-"
                if any(pd.isna(v) for v in values)
                else " → ".join(f"{v * scale:.2f}" for v in values) + unit
                for values in zip(*(table[c] for c in columns), strict=True)
            ]
    return out


def study_plot(table: pd.DataFrame, form: StudyForm, png: Path) -> Path:
    """Each measure per phase by group: simulated bars with intervals, the study's marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(form.measures), figsize=(5.5 * len(form.measures), 4))
    axes = np.atleast_1d(axes)
    labels = [
        " ".join(str(v)[:4] if i < len(form.group_titles) - 1 else str(v) for i, v in enumerate(g))
        for g in zip(*(table[t] for t in form.group_titles), strict=True)
    ]
    x = np.arange(len(table))
    width = 0.8 / len(form.phases)
    for ax, measure in zip(axes, form.measures, strict=True):
        for index, phase in enumerate(form.phases):
            offset = (index - (len(form.phases) - 1) / 2) * width
            means = table[f"{measure.name}_{phase}"].to_numpy(float)
            cis = np.array(table[f"{measure.name}_{phase}_ci"].tolist())
            errors = np.abs(cis.T - means)
            ax.bar(x + offset, means, width, yerr=errors, capsize=3, label=f"simulated {phase}")
            study = table.get(f"study_{measure.name}_{phase}")
            if study is not None:
                ax.scatter(x + offset, study, color="black", marker="_", s=200, zorder=3,
                           label=f"study {phase}")  # fmt: skip
        ax.set_xticks(x, labels, rotation=30)
        ax.set_title(measure.title)
        ax.axhline(0, color="grey", linewidth=0.5)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def study_report(
    episodes: pd.DataFrame, form: StudyForm, run_dir: Path
) -> tuple[pd.DataFrame, list[Path]]:
    """The formatted study table, and the files written (a CSV and a PNG) into ``run_dir``."""
    table = study_table(episodes, form)
    if table.empty:
        return table, []
    text = formatted(table, form)
    csv = run_dir / "study_table.csv"
    text.to_csv(csv, index=False)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    return text, [csv, study_plot(table, form, plots / "study_form.png")]
