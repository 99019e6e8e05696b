"""Every notebook in notebooks/ runs top to bottom without error (on the fake model).

They run in memory (nothing is written back to the .ipynb files) with a fresh kernel each, in
the test's tmp_path; the kernel's TMPDIR is a folder there too. They run at the small scale their
``scaled()`` helper reads from ``MERCATO_NOTEBOOK_SCALE`` (every cell, fewer episodes and steps):
the test checks that the code runs, not the numbers a full-size run shows.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    monkeypatch.setenv("MERCATO_NOTEBOOK_SCALE", "small")
    # The kernel inherits this environment: the notebooks' tempfile.mkdtemp() run folders and
    # SB3's default SB3-<time> log folders land in the test's tmp_path, not the system temp dir.
    kernel_tmp = tmp_path / "tmp"
    kernel_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
