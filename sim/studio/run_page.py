"""A run's page: the per-cell report `mercato report` prints (from `sim.report`, never
recomputed), its plots, filters by cell and outcome, and the episodes table sorted by any
column.

URLs are stable: ``/runs/{path}?cell=c001&outcome=deal&sort=metric_deal&order=desc``.
Tables are cached per run until its shard records change (`RunCache`).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sim.store.storage import Location
from sim.studio.security import RunPaths, admin_only, not_found

EPISODE_COLUMNS = ("episode_id", "cell_id", "episode_index", "steps", "errors", "llm_decisions")
"""Episode-table columns shown before the outcomes (``metric_*``, ``return_*``)."""
CACHED_RUNS = 4
STUDY_PLOT = "study-form"


@dataclass
class RunData:
    """A run's tables as of one state of its shard records, loaded once and shared."""

    location: Location
    manifest: Any
    episodes: pd.DataFrame
    report: pd.DataFrame
    llm: pd.DataFrame
    _steps: pd.DataFrame | None = None
    _plots: dict[str, bytes] = field(default_factory=dict)
    _study: tuple[pd.DataFrame, Path | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def steps(self) -> pd.DataFrame:
        from sim.store.runs import load_steps

        with self.lock:
            if self._steps is None:
                self._steps = load_steps(self.location)
            return self._steps

    def plot(self, name: str, folder: Path) -> bytes | None:
        """The PNG of outcome ``name`` (`sim.report.plots.metric_png`, drawn once on request)
        or of the study form; None when the run has no such plot."""
        from sim.report.plots import metric_png

        with self.lock:
            if name == STUDY_PLOT:
                png = self._study_report(folder / "study")[1]
                return png.read_bytes() if png is not None and png.is_file() else None
            if name not in self._plots:
                if self.report.empty or name not in set(self.report["metric"]):
                    return None
                self._plots[name] = metric_png(self.report, name)
            return self._plots[name]

    def study(self, folder: Path) -> pd.DataFrame | None:
        """The study-form table the env's spec declares (the trial's), or None."""
        with self.lock:
            table = self._study_report(folder / "study")[0]
        return None if table.empty else table

    def _study_report(self, folder: Path) -> tuple[pd.DataFrame, Path | None]:
        """`sim.report.study.study_report` once: its table and plot."""
        from envs.core.registry import spec_of
        from sim.report.study import study_report

        if self._study is None:
            try:
                form = spec_of(str(self.manifest.env)).study
            except ValueError:
                form = None
            if form is None or self.episodes.empty:
                self._study = (pd.DataFrame(), None)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                table, written = study_report(self.episodes, form, folder)
                pngs = [p for p in written if p.suffix == ".png"]
                self._study = (table, pngs[0] if pngs else None)
        return self._study


class RunCache:
    """The last few runs' `RunData`, keyed by path and the state of their shard records."""

    def __init__(self, size: int = CACHED_RUNS) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[tuple[Any, ...], RunData, Path]] = OrderedDict()
        self._lock = threading.Lock()
        self._folder = Path(tempfile.mkdtemp(prefix="mercato-studio-"))

    def get(self, location: Location) -> tuple[RunData, Path]:
        """The run's data and a private scratch folder for its plots (never the run itself)."""
        from sim.report.cells import build_llm_report, build_report
        from sim.store.runs import load_episodes, read_manifest

        manifest = read_manifest(location)
        key = (tuple(sorted(location.files("shards").items())), manifest.status, manifest.updated)
        with self._lock:
            entry = self._entries.get(location.root)
            if entry is not None and entry[0] == key:
                self._entries.move_to_end(location.root)
                return entry[1], entry[2]
        data = RunData(
            location, manifest, load_episodes(location), build_report(location),
            build_llm_report(location),
        )  # fmt: skip
        folder = Path(tempfile.mkdtemp(dir=self._folder))
        with self._lock:
            old = self._entries.pop(location.root, None)
            self._entries[location.root] = (key, data, folder)
            while len(self._entries) > self.size:
                old = self._entries.popitem(last=False)[1]
                shutil.rmtree(old[2], ignore_errors=True)
        if old is not None and old[2] != folder:
            shutil.rmtree(old[2], ignore_errors=True)
        return data, folder


def run_data(request: Request, rel: str) -> tuple[RunData, Path]:
    """The run at ``rel`` under the root (404 outside it) and its plot folder."""
    paths: RunPaths = request.app.state.paths
    return request.app.state.cache.get(paths.location(rel))


@dataclass(frozen=True)
class EpisodeQuery:
    """The episodes table's filters and order, read (and validated) from query parameters."""

    cell: str | None = None
    outcome: str | None = None
    low: float | None = None
    high: float | None = None
    sort: str = "episode_id"
    descending: bool = False
    page: int = 0

    @classmethod
    def of(cls, params: Any, cells: list[str], outcomes: list[str], columns: list[str]) -> Any:
        cell = params.get("cell") or None
        outcome = params.get("outcome") or None
        sort = params.get("sort") or "episode_id"
        return cls(
            cell=cell if cell in cells else None,
            outcome=outcome if outcome in outcomes else None,
            low=_float(params.get("min")),
            high=_float(params.get("max")),
            sort=sort if sort in columns else "episode_id",
            descending=params.get("order") == "desc",
            page=max(0, min(_int(params.get("page")), 100_000)),
        )

    def link(self, **changes: Any) -> str:
        """This query with ``changes``, as a query string (None drops a parameter)."""
        from urllib.parse import urlencode

        values = {
            "cell": self.cell, "outcome": self.outcome, "min": self.low, "max": self.high,
            "sort": self.sort, "order": "desc" if self.descending else None,
            "page": self.page or None,
        } | changes  # fmt: skip
        return "?" + urlencode({k: v for k, v in values.items() if v is not None})


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _int(text: Any) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def outcome_column(episodes: pd.DataFrame, outcome: str) -> str:
    """The episodes column of a report outcome (``deal`` -> ``metric_deal``; returns as is)."""
    return outcome if outcome in episodes else f"metric_{outcome}"


def episode_rows(
    data: RunData, query: EpisodeQuery, columns: list[str], page_size: int
) -> tuple[list[dict[str, Any]], int]:
    """The page of episodes the query selects, in its order, and how many it selects."""
    frame = data.episodes
    if query.cell:
        frame = frame[frame["cell_id"] == query.cell]
    if query.outcome and (query.low is not None or query.high is not None):
        values = pd.to_numeric(frame[outcome_column(frame, query.outcome)], errors="coerce")
        keep = values.notna()
        if query.low is not None:
            keep &= values >= query.low
        if query.high is not None:
            keep &= values <= query.high
        frame = frame[keep]
    order = frame[query.sort]
    if query.sort not in ("episode_id", "cell_id"):
        order = pd.to_numeric(order, errors="coerce")
    frame = frame.assign(_order=order).sort_values(
        ["_order", "episode_id"], ascending=[not query.descending, True],
        kind="stable", na_position="last",
    )  # fmt: skip
    start = query.page * page_size
    rows = frame.iloc[start : start + page_size][columns].to_dict("records")
    return rows, len(frame)


def run_view(request: Request) -> Response:
    """``/runs/{path}``: report, plots, filters and the episodes table."""
    from sim.studio.pages import render
    from sim.studio.runs_index import model_names

    rel = request.path_params["run"]
    data, folder = run_data(request, rel)
    rel = request.app.state.paths.relative(data.location)
    report, episodes = data.report, data.episodes
    cells = sorted(episodes["cell_id"].unique()) if not episodes.empty else []
    outcomes = list(report["metric"].unique()) if not report.empty else []
    columns = [c for c in EPISODE_COLUMNS if c in episodes]
    columns += [c for c in episodes.columns if c.startswith(("metric_", "return_"))]
    query = EpisodeQuery.of(request.query_params, cells, outcomes, columns)
    shown = report
    if query.cell:
        shown = shown[shown["cell_id"] == query.cell]
    if query.outcome:
        shown = shown[shown["metric"] == query.outcome]
    limits = request.app.state.config.limits
    rows, total = episode_rows(data, query, columns, limits.max_episode_rows)
    llm = data.llm if not query.cell else data.llm[data.llm["cell_id"] == query.cell]
    from sim.store.lease import writer_state

    return render(
        request,
        "run.html",
        rel=rel,
        manifest=data.manifest,
        state=writer_state(data.location, data.manifest.status),
        models=model_names(data.manifest.experiment),
        report_groups=_grouped(shown),
        llm=llm.to_dict("records"),
        plots=[m for m in outcomes if not query.outcome or m == query.outcome],
        study_plot=STUDY_PLOT,
        study=data.study(folder),
        cells=cells,
        outcomes=outcomes,
        query=query,
        columns=columns,
        rows=rows,
        total=total,
        page_size=limits.max_episode_rows,
    )


def _grouped(report: pd.DataFrame) -> list[dict[str, Any]]:
    """Report rows grouped by cell, as the CLI table shows them."""
    groups = []
    for cell_id, rows in report.groupby("cell_id", sort=True):
        records = rows.to_dict("records")
        first = records[0]
        key = first.get("key") or first["label"]  # what differs between cells, as the CLI shows
        groups.append({"cell_id": cell_id, "key": key, "label": first["label"], "rows": records})
    return groups


def plot_view(request: Request) -> Response:
    """``/runs/{path}/plots/{outcome}.png``: the outcome's plot as `mercato report` draws it
    (drawn once per run state, only when asked for)."""
    data, folder = run_data(request, request.path_params["run"])
    png = data.plot(request.path_params["name"].removesuffix(".png"), folder)
    if png is None:
        raise not_found()
    return Response(png, media_type="image/png")


def routes() -> list[Route]:
    guarded: Callable[..., Any] = admin_only
    return [
        Route("/runs/{run:path}/plots/{name}", guarded(plot_view), name="plot"),
        Route("/runs/{run:path}", guarded(run_view), name="run"),
    ]
