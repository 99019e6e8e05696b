"""Output directories written atomically: built in a hidden sibling, renamed into place.

An export either leaves a complete directory or nothing: files are written to
``.<name>.<random>.tmp`` next to the target and the folder is renamed in at the end; on any error
the staging folder is removed. An existing non-empty target is refused unless ``overwrite``, and
never replaced when it holds a run directory (a ``manifest.json``) or the run being exported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sim.export.errors import ExportError


def check_target(out: Path, overwrite: bool, source: Path | None = None) -> None:
    """Refuse ``out`` if writing there would lose data (before any work is done)."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a directory; choose another --out")
    if source is not None and _contains(out.resolve(), source.resolve()):
        raise ExportError(f"{out}: holds the run being exported; choose another --out")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if (out / "manifest.json").exists():
        raise ExportError(f"{out}: is a run directory; choose another --out")
    if not overwrite:
        raise ExportError(
            f"{out}: exists and is not empty; pass --overwrite or choose another --out"
        )


@contextlib.contextmanager
def staged_directory(
    out: str | os.PathLike[str], overwrite: bool = False, source: Path | None = None
) -> Iterator[Path]:
    """Yield a fresh folder to fill; on success it becomes ``out``, on error it disappears."""
    out = Path(out)
    check_target(out, overwrite, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield stage
        _commit(stage, out, overwrite, source)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _commit(stage: Path, out: Path, overwrite: bool, source: Path | None) -> None:
    check_target(out, overwrite, source)  # again: something may have appeared meanwhile
    old = None
    if out.is_dir():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / out.name)
    try:
        os.replace(stage, out)
    except OSError:
        if old is not None:
            os.replace(old / out.name, out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _contains(folder: Path, path: Path) -> bool:
    return path == folder or folder in path.parents
