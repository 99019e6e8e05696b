"""`mercato run`, `mercato verify` and `mercato report`: play experiments, check and report runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

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
                on_progress=progress.update, on_start=progress.start, on_models=_show_models,
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


def _show_models(lines: list[str]) -> None:
    """The run's models, each preflighted: backend, endpoint, structured mode, where keys go."""
    for line in lines:
        console.print(f"model {line}", markup=False, highlight=False)


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
) -> None:
    """Per-cell means and 95% intervals of each outcome; writes report.csv and plots/.

    A folder of run directories (a suite's output) gets one report per run.
    """
    from sim.store.runs import MANIFEST
    from sim.store.storage import Location

    location = Location.of(run_dir)
    if not location.local:
        _report_one(run_dir, into)
        return
    root = Path(location.root)
    members = sorted(p.parent for p in root.glob(f"*/{MANIFEST}"))
    for folder in members if not (root / MANIFEST).exists() and members else [root]:
        _report_one(str(folder), into / folder.name if into and folder != root else into)


def _report_one(run_dir: str, into: Path | None) -> None:
    from sim.report.cells import (
        build_llm_report,
        build_report,
        copied_cells,
        llm_report_table,
        report_table,
        write_report,
    )
    from sim.store.lease import writer_state
    from sim.store.runs import read_manifest
    from sim.store.storage import Location

    location = Location.of(run_dir)
    manifest = read_manifest(location)
    if into is None and not location.local:
        into = Path("reports") / manifest.name
    into = into if into is not None else Path(location.root)
    table = build_report(run_dir)
    cells = table["cell_id"].nunique()
    state = writer_state(location, manifest.status)
    console.print(f"{manifest.name} ({state}): {cells} cell(s) with results")
    if manifest.failure:
        console.print(f"[bold red]run failed:[/] {manifest.failure}", highlight=False)
    if table.empty:
        console.print("no finished episodes yet")
    else:
        console.print(report_table(table))
        copied = copied_cells(table)
        if copied:
            console.print(
                f"[bold yellow]COPIES[/]: in {len(copied)} cell(s) ({', '.join(copied[:6])}"
                f"{', ...' if len(copied) > 6 else ''}) every episode is the same episode "
                "(deterministic play), so each is one sample and gets no interval; LLM players "
                "give independent episodes at temperature > 0 (the default 0.7)."
            )
    llm = build_llm_report(run_dir)
    if not llm.empty:
        console.print(llm_report_table(llm))
        if llm["high_fallback"].any():
            console.print(
                "[bold red]HIGH FALLBACK[/]: most of these decisions were not the model's own "
                "answer (constrained choice or the safe default); do not read them as model "
                "behaviour."
            )
    written = write_report(run_dir, table, into=into)
    plots = [p for p in written if p.suffix == ".png"]
    tables = [str(p) for p in written if p.suffix == ".csv"]
    console.print(f"wrote {' and '.join(tables)}" + (f" and {len(plots)} plot(s)" if plots else ""))
    _study_report(run_dir, manifest, into)


def _study_report(run_dir: str, manifest: Manifest, into: Path) -> None:
    """The study-form table of envs whose spec declares one (the manipulation trial's)."""
    from envs.core.registry import spec_of
    from sim.report.study import study_report
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
    rich_table = Table(
        *table.columns, title=f"in the form of {form.source} (95% intervals over episodes)"
    )
    for row in table.itertuples(index=False):
        rich_table.add_row(*(str(v) for v in row))
    console.print(rich_table)
    console.print("wrote " + " and ".join(str(p) for p in written))
