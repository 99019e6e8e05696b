"""A run's results in the form its reference study reported them, for envs whose `EnvSpec`
declares a `StudyForm` (the manipulation trial: HOD and hidden-preferred share before and after
the conversation, per domain and assistant type, next to Sabour et al.'s numbers).

The unit is the episode (one simulated participant, averaged over its tasks), so the 95%
intervals account for a participant's tasks being correlated.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from envs.core.spec import StudyForm
from sim.report.cells import mean_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


def measure_tables(text: pd.DataFrame, form: StudyForm) -> list[Table]:
    """`formatted`'s table as one rich table per measure (groups, n, each phase, the study's
    values), so each reads whole at 80 columns."""
    tables = []
    for measure in form.measures:
        table = Table(
            box=box.SIMPLE_HEAD, show_edge=False, title_justify="left",
            title=f"{measure.title}: simulated (95% interval) vs {form.source}",
        )  # fmt: skip
        for title in form.group_titles:
            table.add_column(title, no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        columns = [f"{measure.title} {phase}" for phase in form.phases]
        for phase in form.phases:
            table.add_column(phase, justify="right", overflow="fold")
        study = f"study {measure.title}"
        if study in text:
            columns.append(study)
            table.add_column("study", justify="right", overflow="fold")
        for row in text.to_dict("records"):
            values = [row[t] for t in form.group_titles] + [row["n"]] + [row[c] for c in columns]
            table.add_row(*(str(v) for v in values))
        tables.append(table)
    return tables


def study_figure(table: pd.DataFrame, form: StudyForm) -> Figure:
    """Each measure per phase by group: simulated bars with 95% intervals, the study's values
    as diamonds in the phase's colour; the legend sits below the panels, clear of every label."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5 * len(form.measures), 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(1, len(form.measures)))
    groups = zip(*(table[t] for t in form.group_titles), strict=True)
    labels = ["\n".join(str(v) for v in group) for group in groups]
    x = np.arange(len(table))
    width = 0.8 / len(form.phases)
    for ax, measure in zip(axes, form.measures, strict=True):
        for index, phase in enumerate(form.phases):
            colour = f"C{index}"
            offset = (index - (len(form.phases) - 1) / 2) * width
            means = table[f"{measure.name}_{phase}"].to_numpy(float) * measure.scale
            cis = np.array(table[f"{measure.name}_{phase}_ci"].tolist()) * measure.scale
            errors = np.abs(cis.T - means)
            ax.bar(
                x + offset, means, width, yerr=errors, capsize=3, color=colour, alpha=0.75,
                error_kw={"ecolor": "0.2"}, label=f"simulated {phase}, 95% interval",
            )  # fmt: skip
            study = table.get(f"study_{measure.name}_{phase}")
            if study is not None:
                ax.scatter(
                    x + offset, study.to_numpy(float) * measure.scale, marker="D", s=36,
                    color=colour, edgecolors="black", linewidths=0.8, zorder=3,
                    label=f"{form.source} {phase} (published)",
                )  # fmt: skip
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_title(f"{measure.title}{f' ({measure.unit})' if measure.unit else ''}")
        ax.axhline(0, color="grey", linewidth=0.5)
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside lower center", ncol=len(handles), fontsize=8)
    return figure


def study_plot(table: pd.DataFrame, form: StudyForm, png: Path) -> Path:
    """`study_figure` saved as ``png``."""
    study_figure(table, form).savefig(png, dpi=110)
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
