"""Rows as a Hugging Face dataset folder: ``data/train-00000-of-00001.parquet`` plus ``README.md``.

`datasets.Dataset.to_parquet` stores chat messages as ``list<struct<role, content>>`` with the
``huggingface`` features metadata, so ``load_dataset("parquet", data_dir=...)`` (or the Hub)
gives them back exactly. The card's YAML front matter names the data files for ``load_dataset``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sim.export.errors import ExportError
from sim.export.staging import staged_directory

DATA_FILE = "data/train-00000-of-00001.parquet"


def write_hf_dataset(
    rows: list[dict[str, Any]],
    out: str | os.PathLike[str],
    card: str,
    *,
    overwrite: bool = False,
    source: Path | None = None,
) -> Path:
    """Write ``rows`` and the dataset ``card`` to ``out`` atomically; return ``out``."""
    if not rows:
        raise ExportError("no rows to write")
    from datasets import Dataset
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # one tiny file: a progress bar is noise on the CLI's one line
    try:
        with staged_directory(out, overwrite, source) as stage:
            (stage / "data").mkdir()
            Dataset.from_list(rows).to_parquet(str(stage / DATA_FILE))
            (stage / "README.md").write_text(card, encoding="utf-8")
    finally:
        if not quiet:
            enable_progress_bars()
    return Path(out)
