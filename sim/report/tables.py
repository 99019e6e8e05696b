"""A run's report as text: a table of cells (each named by its key, `sim.report.keys`), then
outcomes x cells (mean ± the 95% interval's half-width), stacked in blocks of cells that fit
the terminal's width; the LLM paths per cell; and the report as CSV, Markdown or JSON.

Nothing is cut: a cell's key wraps at its spaces, values never shrink below their width, and a
terminal too narrow for two columns still gets one cell per block.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import pandas as pd
from rich import box
from rich.table import Table

FORMATS = ("text", "csv", "markdown", "json")
"""What `mercato report --format` prints (text: the rich tables)."""


def number(value: float) -> str:
    """A report value in at most 4 significant digits (``-`` for NaN)."""
    return "-" if math.isnan(value) else f"{value:.4g}"


def with_half(mean: float, half: float) -> str:
    """``mean ±half``, the half-width in 2 significant digits and the mean to the same decimal
    place (``36.7 ±8.2``, ``0.167 ±0.095``, ``3607 ±2800``)."""
    if not half > 0:
        return f"{number(mean)} ±0"
    half = float(f"{half:.2g}")
    places = min(8, max(0, 1 - math.floor(math.log10(half))))
    text = f"{mean:.{places}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return f"{text} ±{half:.{places}f}"


def episodes_of(report: pd.DataFrame) -> dict[str, int]:
    """Each cell's episode count (its largest ``n``: outcomes drop NaNs)."""
    return {str(c): int(n) for c, n in report.groupby("cell_id", sort=True)["n"].max().items()}


def value_text(row: pd.Series | object, episodes: int, wide: bool = False) -> str:
    """One cell's outcome: ``mean ±half`` (``mean [low, high]`` when wide); a mean alone for
    copies or a single value; `` n=k`` when some episodes lack the outcome."""
    mean, low, high = (float(getattr(row, c)) for c in ("mean", "ci_low", "ci_high"))
    text = number(mean)
    if not math.isnan(low) and not bool(getattr(row, "copies", False)):
        text = f"{text} [{number(low)}, {number(high)}]" if wide else with_half(mean, high - mean)
    n = int(row.n)  # type: ignore[attr-defined]
    return text + (f" n={n}" if n != episodes else "")


def cells_table(report: pd.DataFrame, legend: Mapping[str, str]) -> Table:
    """One row per cell: its id, its key (what differs from the other cells) and episodes."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, title="cells", title_justify="left")
    table.add_column("cell", no_wrap=True)
    table.add_column("what differs", overflow="fold", min_width=12)
    table.add_column("episodes", justify="right", no_wrap=True)
    counts = episodes_of(report)
    for row in report.drop_duplicates("cell_id").sort_values("cell_id").itertuples():
        copies = bool(getattr(row, "copies", False))
        shown = str(row.key) if row.key != row.cell_id else "-"
        episodes = f"{counts[row.cell_id]}{' (copies)' if copies else ''}"
        table.add_row(str(row.cell_id), shown, episodes)
    if legend:
        table.caption = "  ".join(f"{short} = {name}" for short, name in legend.items())
        table.caption_justify = "left"
    return table


def outcome_tables(report: pd.DataFrame, width: int, wide: bool = False) -> list[Table]:
    """Outcomes x cells, in blocks of as many cells as fit ``width`` columns (one table of all
    cells with full intervals when ``wide``)."""
    counts = episodes_of(report)
    metrics = list(report["metric"].unique())
    cells = sorted(counts)
    texts: dict[str, dict[str, str]] = {cell: {} for cell in cells}
    for row in report.itertuples():
        texts[row.cell_id][row.metric] = value_text(row, counts[row.cell_id], wide)
    name_width = max(len("outcome"), *(len(str(m)) for m in metrics))
    widths = {c: max(len(c), *(len(t) for t in texts[c].values())) for c in cells}
    blocks = [cells] if wide else _blocks(cells, widths, width - (name_width + 3) - 1)
    title = "mean [95% interval]" if wide else "mean ±95% interval"
    tables = []
    for index, block in enumerate(blocks):
        part = f" ({index + 1}/{len(blocks)})" if len(blocks) > 1 else ""
        table = Table(
            box=box.SIMPLE_HEAD, show_edge=False, title=title + part, title_justify="left"
        )
        table.add_column("outcome", no_wrap=True, min_width=min(name_width, 12))
        for cell in block:
            table.add_column(cell, justify="right", no_wrap=True, min_width=widths[cell])
        for metric in metrics:
            table.add_row(str(metric), *(texts[cell].get(metric, "") for cell in block))
        tables.append(table)
    return tables


def _blocks(cells: list[str], widths: Mapping[str, int], room: int) -> list[list[str]]:
    """Consecutive cells in groups whose columns (width + 3 each) fit ``room``; one at least."""
    blocks: list[list[str]] = [[]]
    used = 0
    for cell in cells:
        need = widths[cell] + 3
        if blocks[-1] and used + need > room:
            blocks.append([])
            used = 0
        blocks[-1].append(cell)
        used += need
    return blocks


def llm_report_table(llm: pd.DataFrame) -> Table:
    """The LLM paths per cell as a rich table; high fallback shares are marked."""
    table = Table(
        title="LLM decisions per cell: how each action was reached",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for title in ("cell", "model", "n", "parsed", "re-asked", "choice", "default", "failed"):
        justify = "left" if title in ("cell", "model") else "right"
        table.add_column(title, justify=justify, overflow="fold")
    table.add_column("", no_wrap=True)
    for row in llm.itertuples():
        table.add_row(
            row.cell_id,
            row.model,
            str(row.decisions),
            *(f"{getattr(row, p):.0%}" for p in ("parsed", "reasked", "choice", "default")),
            str(row.failed_requests),
            "[bold red]HIGH FALLBACK[/]" if row.high_fallback else "",
        )
    return table


def report_text(report: pd.DataFrame, form: str, legend: Mapping[str, str]) -> str:
    """The report in ``form`` (csv: `build_report`'s rows; json: those rows as records;
    markdown: outcomes x cells with intervals, then the cells and the legend)."""
    if form == "csv":
        return report.to_csv(index=False)
    if form == "json":
        records = json.loads(report.to_json(orient="records"))
        return json.dumps({"legend": dict(legend), "rows": records}, indent=1) + "\n"
    if form == "markdown":
        return _markdown(report, legend)
    raise ValueError(f"--format: {form!r} is not one of {', '.join(FORMATS)}")


def _markdown(report: pd.DataFrame, legend: Mapping[str, str]) -> str:
    counts = episodes_of(report)
    cells = sorted(counts)
    lines = ["| outcome | " + " | ".join(cells) + " |", "|---" * (len(cells) + 1) + "|"]
    for metric, rows in report.groupby("metric", sort=False):
        by_cell = {r.cell_id: value_text(r, counts[r.cell_id], True) for r in rows.itertuples()}
        lines.append(f"| {metric} | " + " | ".join(by_cell.get(c, "") for c in cells) + " |")
    lines += ["", "| cell | what differs | label | episodes |", "|---|---|---|---|"]
    for row in report.drop_duplicates("cell_id").sort_values("cell_id").itertuples():
        lines.append(f"| {row.cell_id} | {row.key} | {row.label} | {counts[row.cell_id]} |")
    if legend:
        lines += ["", ", ".join(f"`{short}` = `{name}`" for short, name in legend.items())]
    return "\n".join(lines) + "\n"
