"""Plots of a run's report: one faceted figure (a panel per outcome, a row per cell, each mean
with its 95% interval) and one outcome's plot for given cells (what the studio shows).

Figures use matplotlib's Agg canvas directly: no display and no pyplot state, so threads (the
studio's) can draw at once.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLUMNS = 4
"""Panels per row of the faceted figure."""
COPIES_NOTE = "hollow: every episode the same (one sample, no interval)"


def facet_figure(report: pd.DataFrame) -> Figure:
    """A panel per outcome of ``report`` (`build_report`'s rows), each cell's mean and 95%
    interval on one shared row per cell, cells labelled by id and key on the left."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = list(report["metric"].unique())
    cells = _cells(report)
    columns = min(COLUMNS, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    height = 0.28 * len(cells) + 0.9
    figure = Figure(figsize=(2.9 * columns + 0.6, height * rows + 0.8))
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(rows, columns, sharey=True, squeeze=False)).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        _draw(ax, report[report["metric"] == metric], cells, str(metric), titled=True)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    for row in range(rows):
        axes[row * columns].set_yticks(range(len(cells)), _tick_labels(report, cells), fontsize=8)
    figure.suptitle(f"mean and 95% interval per cell ({COPIES_NOTE})", fontsize=10)
    figure.tight_layout()
    return figure


def write_facets(report: pd.DataFrame, png: Path) -> Path:
    """`facet_figure` of ``report`` saved as ``png``."""
    facet_figure(report).savefig(png, dpi=90, bbox_inches="tight")
    return png


def metric_png(
    report: pd.DataFrame,
    metric: str,
    cells: Sequence[str] | None = None,
    path: Path | None = None,
) -> bytes:
    """One outcome's plot (mean and 95% interval per cell) for ``cells`` (default: all) as PNG
    bytes, also written to ``path`` when given; a ValueError names an unknown outcome or cell."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = report[report["metric"] == metric]
    if rows.empty:
        raise ValueError(f"no outcome {metric!r}; known: {', '.join(report['metric'].unique())}")
    if cells is not None:
        unknown = sorted(set(cells) - set(rows["cell_id"]))
        if unknown:
            raise ValueError(f"no cell(s) {', '.join(unknown)} in the report")
        rows = rows[rows["cell_id"].isin(cells)]
    order = _cells(rows)
    figure = Figure(figsize=(7.0, 0.35 * len(order) + 1.3))
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    _draw(ax, rows, order, metric, titled=False)
    ax.set_yticks(range(len(order)), _tick_labels(rows, order), fontsize=8)
    ax.set_xlabel(metric)
    ax.set_title(f"{metric}: mean and 95% interval per cell", fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def metric_file_name(metric: Any) -> str:
    """``plots/<name>.png`` of an outcome's own plot (never the faceted ``report.png``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(metric))
    return f"{name}_metric.png" if name == "report" else f"{name}.png"


def _cells(report: pd.DataFrame) -> list[str]:
    return sorted(report["cell_id"].unique())


def _tick_labels(report: pd.DataFrame, cells: list[str]) -> list[str]:
    keys = report.drop_duplicates("cell_id").set_index("cell_id")
    column = "key" if "key" in keys else "label"
    return [
        cell if keys.loc[cell, column] == cell else f"{cell}  {keys.loc[cell, column]}"
        for cell in cells
    ]


def _draw(ax: Axes, rows: pd.DataFrame, cells: list[str], metric: str, titled: bool) -> None:
    """Each cell's mean as a dot with its 95% interval as a line; copies hollow, no line."""
    by_cell = rows.set_index("cell_id")
    for y, cell in enumerate(cells):
        if cell not in by_cell.index:
            continue
        row = by_cell.loc[cell]
        mean, low, high = (float(row[c]) for c in ("mean", "ci_low", "ci_high"))
        if math.isnan(mean):
            continue
        copies = bool(row.get("copies", False))
        if not (copies or math.isnan(low)):
            ax.plot([low, high], [y, y], color="tab:blue", linewidth=2, solid_capstyle="butt")
        ax.plot(
            [mean], [y], marker="o", markersize=5, color="tab:blue",
            markerfacecolor="white" if copies else "tab:blue",
        )  # fmt: skip
    ax.set_ylim(len(cells) - 0.5, -0.5)  # first cell on top, as in the table
    ax.grid(axis="x", color="0.9")
    ax.tick_params(axis="x", labelsize=7)
    if titled:
        ax.set_title(metric, fontsize=8)
