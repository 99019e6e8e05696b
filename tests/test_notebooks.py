"""Every notebook in notebooks/ runs top to bottom without error (on the fake model), and its
figures tell the truth.

They run in memory (nothing is written back to the .ipynb files) with a fresh kernel each, in
the test's tmp_path; ``MERCATO_NOTEBOOK_RUNS`` points their run folders (by default
``runs/notebooks/<notebook>/``) there and the kernel's TMPDIR is a folder there too. They run at
the small scale their ``scaled()`` helper reads from ``MERCATO_NOTEBOOK_SCALE`` (every cell, fewer
episodes and steps): the test checks that the code runs, not the numbers a full-size run shows.

Every figure a notebook draws passes `figure_problems` (checked as it is rendered, by a patched
``print_figure`` in the kernel): each plotted estimate carries its 95% interval, and no legend
covers a label or a data point.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import nbformat
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# Notebooks that draw no figure (the others must draw at least one, all checked).
NO_FIGURES = {"01_language_models.ipynb"}


def figure_problems(figure) -> list[str]:
    """What in ``figure`` misleads: an estimate drawn without its interval, or a legend over a
    label or a data point. Returns one line per problem.

    A plotted series needs an interval: a line or markers drawn with ``errorbar`` (x or y error),
    bars drawn with ``yerr``/``xerr``. Exempt are artists whose gid is ``"reference"`` (a theory
    curve, a published value) or ``"exact"`` (a deterministic quantity with no sampling error),
    lines that span the axes (``axhline``/``axvline``), empty legend proxies and interval bands.
    Self-contained (imports inside) so the test can send its source to a notebook's kernel.
    """
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer, ErrorbarContainer
    from matplotlib.text import Text

    exempt = ("reference", "exact")
    problems: list[str] = []
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for number, ax in enumerate(figure.axes):
        where = f"axes {number} ({ax.get_title() or ax.get_ylabel() or 'untitled'!r})"
        with_interval = set()
        for container in ax.containers:
            if isinstance(container, ErrorbarContainer):
                data_line, caplines, _ = container.lines
                with_interval.update([data_line, *caplines])
            elif isinstance(container, BarContainer):
                gid = container.patches[0].get_gid() if container.patches else None
                if container.errorbar is None and gid not in exempt:
                    label = container.get_label()
                    problems.append(f"{where}: bars {label!r} have no interval")
        for line in ax.lines:
            if line in with_interval or line.get_gid() in exempt:
                continue
            if line.get_transform() is not ax.transData or len(line.get_xdata()) == 0:
                continue  # axhline/axvline, or a legend proxy
            problems.append(f"{where}: line {line.get_label()!r} has no interval")
        for collection in ax.collections:
            if isinstance(collection, PathCollection) and collection.get_gid() not in exempt:
                problems.append(f"{where}: markers {collection.get_label()!r} have no interval")
    legends = [a.get_legend() for a in figure.axes if a.get_legend()] + list(figure.legends)
    legend_texts = {text for legend in legends for text in legend.findobj(Text)}
    labels = list(figure.texts)
    for ax in figure.axes:
        labels += [*ax.texts, ax.title, ax._left_title, ax._right_title]
        labels += [ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):
            labels += [tick.label1 for tick in axis._update_ticks()]  # the ticks drawn
    labels = [t for t in labels if t.get_visible() and t.get_text().strip()]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for text in labels:
            if text not in legend_texts and box.overlaps(text.get_window_extent(renderer)):
                problems.append(f"legend covers the label {text.get_text()!r}")
        for ax in figure.axes:
            for line in ax.lines:
                if line.get_transform() is not ax.transData or not len(line.get_xdata()):
                    continue
                points = line.get_transform().transform(line.get_xydata())
                shown = ((points >= ax.bbox.p0) & (points <= ax.bbox.p1)).all(axis=1)
                covered = ((points >= box.p0) & (points <= box.p1)).all(axis=1)
                if (shown & covered).any():  # a point drawn (inside the axes) under the legend
                    problems.append(f"legend covers data of {line.get_label()!r}")
            for container in ax.containers:
                if isinstance(container, BarContainer):
                    for patch in container.patches:
                        if box.overlaps(patch.get_window_extent(renderer)):
                            problems.append(f"legend covers bars {container.get_label()!r}")
                            break
    return problems


# A first cell the test adds to its copy of a notebook: every figure is checked as it renders.
CHECK_CELL = """
import matplotlib.backend_bases as _backend_bases
_FIGURES_CHECKED, _FIGURE_PROBLEMS = [0], []
_print_figure = _backend_bases.FigureCanvasBase.print_figure

def _checked_print_figure(self, *args, **kwargs):
    _FIGURES_CHECKED[0] += 1
    _FIGURE_PROBLEMS.extend(
        f"figure {_FIGURES_CHECKED[0]}: {problem}" for problem in figure_problems(self.figure)
    )
    return _print_figure(self, *args, **kwargs)

_backend_bases.FigureCanvasBase.print_figure = _checked_print_figure
"""
# A last cell: what the checks found, as one JSON line.
REPORT_CELL = """
import json as _json
print(_json.dumps({"figures": _FIGURES_CHECKED[0], "problems": _FIGURE_PROBLEMS}))
"""


def _figure():
    figure = Figure(figsize=(4, 3))
    FigureCanvasAgg(figure)
    return figure, figure.subplots()


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_figure_check_wants_an_interval_on_every_estimate():
    fig, ax = _figure()
    ax.bar([0, 1], [0.2, 1 / 3], label="share")
    ax.plot([0, 1], [0.5, 0.6], marker="o", label="mean")
    ax.scatter([0], [0.4], label="points")
    assert len(figure_problems(fig)) == 3

    fig, ax = _figure()
    ax.bar([0, 1], [0.2, 1 / 3], yerr=[0.1, 0.1], label="share")
    ax.errorbar([0, 1], [0.5, 0.6], yerr=[0.05, 0.05], fmt="o", label="mean")
    ax.plot([0, 1], [0, 1], gid="reference", label="theory")
    ax.scatter([0], [0.4], gid="exact", label="deterministic")
    ax.axhline(1 / 3, ls="--")
    ax.plot([], [], "kx", label="a legend proxy")
    assert figure_problems(fig) == []


def test_figure_check_wants_legends_off_labels_and_data():
    fig, ax = _figure()
    ax.errorbar([0, 1], [0, 1], yerr=[0.1, 0.1], fmt="o", label="a long legend entry here")
    ax.annotate("a label", (0.05, 0.95), xycoords="axes fraction", va="top")
    ax.legend(loc="upper left")
    assert any("covers the label 'a label'" in p for p in figure_problems(fig))

    fig, ax = _figure()
    ax.errorbar([0, 1], [0, 1], yerr=[0.1, 0.1], fmt="o", label="mean")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0))
    ax.set(xlim=(-0.05, 1.05), ylim=(-0.05, 1.05))
    ax.errorbar([0.02], [0.98], yerr=[0.01], fmt="s", label="under the legend")
    assert any("covers data" in p for p in figure_problems(fig))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    assert figure_problems(fig) == []


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    monkeypatch.setenv("MERCATO_NOTEBOOK_SCALE", "small")
    runs = tmp_path / "runs"
    monkeypatch.setenv("MERCATO_NOTEBOOK_RUNS", str(runs))
    # The kernel inherits this environment: SB3's default SB3-<time> log folders and any other
    # temporary files land in the test's tmp_path, not the system temp dir.
    kernel_tmp = tmp_path / "tmp"
    kernel_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))
    committed = path.read_bytes()
    notebook = nbformat.read(path, as_version=4)
    check = inspect.getsource(figure_problems) + CHECK_CELL
    notebook.cells.insert(0, nbformat.v4.new_code_cell(check))
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    assert path.read_bytes() == committed  # executed a copy

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "IProgress not found" not in stderr
    assert "TqdmWarning" not in stderr

    report = json.loads(notebook.cells[-1].outputs[-1].text.strip().splitlines()[-1])
    assert report["problems"] == []
    if path.name not in NO_FIGURES:
        assert report["figures"] > 0
    # Runs went to the named folder the test chose (runs/notebooks/<notebook> by default).
    assert (runs / path.stem).is_dir()
