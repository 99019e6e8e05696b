"""`mercato run`, `mercato verify` and `mercato report`: play experiments, check and report runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sim.cli.app import app, console, exits_cleanly

if TYPE_CHECKING:
    from sim.store.manifest import Manifest


@app.command("run")
@exits_cleanly
def run_experiment(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    workers: Annotated[
        int | None, typer.Option(min=0, help="Parallel shard workers (0: in-process, no Ray).")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster to join: auto or host:port.")
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            help="Run directory or object-store URI, e.g. s3://bucket/runs/x (default runs/<name>)."
        ),
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Delete the run directory's old contents.")] = False,
    takeover: Annotated[
        bool, typer.Option(help="Take over a run whose writer's lease went stale (writer gone).")
    ] = False,
    runtime_env: Annotated[
        Path | None,
        typer.Option(help="YAML/JSON Ray runtime_env added to what cluster workers get."),
    ] = None,
) -> None:
    """Play an experiment (or a suite of them) on Ray; re-running resumes an interrupted run.

    Exit status: 0 complete; 1 the run's location cannot be read or written; 2 bad input, another
    writer holds the run, or a model failed its preflight (nothing written); 3 the run ended failed
    (a model's LLM decisions fell back more than max_fallback_rate); 130 interrupted.
    """
    from sim.engine.batch import run
    from sim.engine.progress import RunProgress
    from sim.engine.suite import load_suite, suite_members, suite_name
    from sim.store.storage import child_uri

    if suite_members(experiment) is None:
        plan = [(experiment, out)]
    else:
        root = out or str(Path("runs") / suite_name(experiment))
        plan = [(member, child_uri(root, member.name)) for member in load_suite(experiment)]
    extra_env = _runtime_env(runtime_env) if runtime_env else None
    for item, item_out in plan:
        with RunProgress(console) as progress:
            run_dir = run(
                item, workers=workers, address=address, out=item_out, fresh=fresh,
                on_progress=progress.update, on_start=progress.start, on_models=progress.models,
                takeover=takeover, runtime_env=extra_env,
            )  # fmt: skip
        console.print(f"run directory: {_shown(run_dir)}")


def _runtime_env(path: Path) -> dict[str, Any]:
    """A ``--runtime-env`` file's mapping, or one line saying what is wrong with it."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"--runtime-env: cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"--runtime-env: {path} must hold a mapping (e.g. pip:, env_vars:)")
    return data


def _shown(where: Path | str) -> str:
    """A run location as it may be printed (credentials redacted)."""
    from sim.store.storage import redact

    return redact(str(where))


@app.command("verify")
@exits_cleanly
def verify(
    run: Annotated[str, typer.Argument(help="A run directory or object-store URI.")],
) -> None:
    """Check every shard of a run (episodes and steps) against its commit record.

    Prints one line per problem. Exit status 0 when every committed shard verifies (and a
    complete run has all its shards), 1 when something is damaged, foreign or missing.
    """
    from sim.store.lease import writer_state
    from sim.store.runs import read_manifest
    from sim.store.shard_index import audit, planned_shard_ids
    from sim.store.storage import Location

    location = Location.of(run)
    manifest = read_manifest(location)
    result = audit(location, manifest)
    planned = planned_shard_ids(manifest)
    total = len(planned) if planned is not None else len(result.ok) + len(result.damaged)
    state = writer_state(location, manifest.status)
    console.print(
        f"{location.name()}: {manifest.name} ({state}): "
        f"{len(result.ok)} of {total} shard(s) verified",
        markup=False, highlight=False,
    )  # fmt: skip
    lines = [f"DAMAGED {shard}: {why}" for shard, why in sorted(result.damaged.items())]
    lines += [f"FOREIGN {what}" for what in result.foreign]
    complete = manifest.status == "complete"
    if result.missing:
        listed = ", ".join(result.missing[:8]) + (", ..." if len(result.missing) > 8 else "")
        why = "lost from a complete run" if complete else "not played yet"
        lines.append(f"MISSING {len(result.missing)} shard(s) ({why}): {listed}")
    lines += [
        f"UNCOMMITTED {path} (no commit record names it: never read; the next run deletes it)"
        for path in result.uncommitted
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not result.clean or (complete and result.missing):
        console.print("re-run the experiment into this location to replay what is damaged")
        raise typer.Exit(1)


@app.command("report")
@exits_cleanly
def report(
    run_dir: Annotated[
        str, typer.Argument(help="A run directory or object-store URI (from `mercato run`).")
    ],
    into: Annotated[
        Path | None,
        typer.Option(
            help="Folder for report.csv and plots/ (default: the run directory; "
            "reports/<name> for object storage)."
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(help="Outcomes to show and draw, comma-separated (patterns: 'tactic_*')."),
    ] = None,
    cells: Annotated[
        str | None, typer.Option(help="Cells to show and draw, comma-separated: c000,c003.")
    ] = None,
    wide: Annotated[
        bool,
        typer.Option(help="One table of every cell with full intervals, whatever the width."),
    ] = False,
    form: Annotated[
        str, typer.Option("--format", help="text, csv, markdown or json (to stdout).")
    ] = "text",
    per_metric: Annotated[
        bool, typer.Option(help="Also one plots/<outcome>.png per outcome.")
    ] = False,
) -> None:
    """Per-cell means and 95% intervals of each outcome, each cell named by what differs
    between cells; writes report.csv and plots/report.png (a panel per outcome).

    --metrics and --cells choose what is printed and drawn; report.csv keeps everything. A
    folder of run directories (a suite's output) gets one report per run.
    """
    from sim.report.tables import FORMATS
    from sim.store.runs import MANIFEST
    from sim.store.storage import Location

    if form not in FORMATS:
        raise ValueError(f"--format: {form!r} is not one of {', '.join(FORMATS)}")
    choice = ReportChoice(_listed("--metrics", metrics), _listed("--cells", cells), wide, form)
    location = Location.of(run_dir)
    if not location.local:
        _report_one(run_dir, into, choice, per_metric)
        return
    root = Path(location.root)
    members = sorted(p.parent for p in root.glob(f"*/{MANIFEST}"))
    for folder in members if not (root / MANIFEST).exists() and members else [root]:
        where = into / folder.name if into and folder != root else into
        _report_one(str(folder), where, choice, per_metric)


@dataclass(frozen=True)
class ReportChoice:
    """What `mercato report` shows: outcomes and cells (None: all), layout and format."""

    metrics: tuple[str, ...] | None
    cells: tuple[str, ...] | None
    wide: bool
    form: str


def _listed(option: str, text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    if not items:
        raise ValueError(f"{option}: give one or more names separated by commas")
    return items


def _chosen(option: str, wanted: tuple[str, ...] | None, known: list[str]) -> list[str]:
    """The names of ``known`` that ``wanted`` names (patterns allowed), in ``known``'s order;
    one line naming the option and what is allowed when a name matches nothing."""
    from fnmatch import fnmatchcase

    if wanted is None:
        return known
    missing = [w for w in wanted if not any(fnmatchcase(k, w) for k in known)]
    if missing:
        raise ValueError(
            f"{option}: no {', '.join(repr(m) for m in missing)} in this run; "
            f"allowed: {', '.join(known)}"
        )
    return [k for k in known if any(fnmatchcase(k, w) for w in wanted)]


def _report_one(run_dir: str, into: Path | None, choice: ReportChoice, per_metric: bool) -> None:
    from rich.console import Console

    from sim.report.cells import (
        build_report,
        copied_cells,
        key_legend,
        write_report,
    )
    from sim.report.tables import cells_table, outcome_tables, report_text
    from sim.store.lease import writer_state
    from sim.store.runs import read_manifest
    from sim.store.storage import Location

    location = Location.of(run_dir)
    manifest = read_manifest(location)
    if into is None and not location.local:
        into = Path("reports") / manifest.name
    into = into if into is not None else Path(location.root)
    table = build_report(run_dir)
    shown = table
    if not table.empty:
        metrics = _chosen("--metrics", choice.metrics, list(table["metric"].unique()))
        cell_ids = _chosen("--cells", choice.cells, sorted(table["cell_id"].unique()))
        shown = table[table["metric"].isin(metrics) & table["cell_id"].isin(cell_ids)]
    text = choice.form == "text"
    out = console if text else Console(stderr=True)  # data alone on stdout
    cells = table["cell_id"].nunique()
    state = writer_state(location, manifest.status)
    out.print(f"{manifest.name} ({state}): {cells} cell(s) with results", highlight=False)
    if manifest.failure:
        out.print(f"[bold red]run failed:[/] {manifest.failure}", highlight=False)
    legend = key_legend(table)
    if not text:
        typer.echo(report_text(shown, choice.form, legend), nl=False)
    elif table.empty:
        console.print("no finished episodes yet")
    else:
        console.print(cells_table(shown, legend))
        # --wide: lines as long as the table needs (a pager's or a wide terminal's business)
        where = Console(width=10_000) if choice.wide else console
        for part in outcome_tables(shown, where.width, wide=choice.wide):
            where.print(part)
        copied = copied_cells(shown)
        if copied:
            console.print(
                f"[bold yellow]COPIES[/]: the episodes of {len(copied)} cell(s) "
                f"({', '.join(copied[:6])}{', ...' if len(copied) > 6 else ''}) are copies of one "
                "episode (deterministic play): one sample each, no interval. LLM players give "
                "independent episodes at temperature > 0 (the default 0.7)."
            )
    _llm_report(run_dir, out)
    written = write_report(run_dir, table, into=into, shown=shown, per_metric=per_metric)
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    _study_report(run_dir, manifest, into, out, tables=text)


def _llm_report(run_dir: str, out: Any) -> None:
    """The LLM paths per cell, with a warning when a model mostly fell back."""
    from sim.report.cells import build_llm_report
    from sim.report.tables import llm_report_table

    llm = build_llm_report(run_dir)
    if llm.empty:
        return
    out.print(llm_report_table(llm))
    if llm["high_fallback"].any():
        out.print(
            "[bold red]HIGH FALLBACK[/]: most of these decisions were not the model's own "
            "answer (constrained choice or the safe default); do not read them as model "
            "behaviour."
        )


def _study_report(run_dir: str, manifest: Manifest, into: Path, out: Any, *, tables: bool) -> None:
    """The study-form table of envs whose spec declares one (the manipulation trial's): written,
    and printed one measure per table when ``tables``."""
    from envs.core.registry import spec_of
    from sim.report.study import measure_tables, study_report
    from sim.store.runs import load_episodes

    try:
        form = spec_of(str(manifest.env)).study
    except ValueError:  # an env of a family not imported here: no study form to print
        return
    if form is None:
        return
    table, written = study_report(load_episodes(run_dir), form, into)
    if table.empty:
        return
    for part in measure_tables(table, form) if tables else []:
        out.print(part)
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
