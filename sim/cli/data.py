"""`mercato import-glee` and `mercato export`: games played elsewhere in, datasets out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sim.cli.app import app, console, exits_cleanly


@app.command("import-glee")
@exits_cleanly
def import_glee_command(
    source_dir: Annotated[
        Path, typer.Argument(help="GLEE data: game folders (config.json, game.csv).")
    ],
    out: Annotated[Path, typer.Option(help="Run directory to create.")],
    fresh: Annotated[bool, typer.Option(help="Replace an existing run directory.")] = False,
) -> None:
    """Import GLEE's released game logs as a run directory (`mercato report` reads it)."""
    from sim.store.importer import import_games
    from sim.store.runs import read_manifest

    run_dir = import_games("glee", source_dir, out, fresh=fresh)
    manifest = read_manifest(run_dir)
    games = manifest.games or {}
    cells = manifest.plan.cells if manifest.plan else len(manifest.cells)
    console.print(
        f"imported {games['imported']} of {games['found']} game(s) into {cells} cell(s); "
        f"skipped {games['skipped']}"
    )
    console.print(f"run directory: {run_dir}")


@app.command("export")
@exits_cleanly
def export_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (from `mercato run`).")],
    format: Annotated[str, typer.Option("--format", help="sft, dpo, kto or minari.")],
    out: Annotated[Path, typer.Option(help="Dataset folder to create.")],
    agent: Annotated[
        list[str] | None, typer.Option(help="Only these agents (minari: the one agent).")
    ] = None,
    role: Annotated[list[str] | None, typer.Option(help="Only these roles.")] = None,
    cell: Annotated[list[str] | None, typer.Option(help="Only these cells (c000, ...).")] = None,
    scripted: Annotated[
        bool, typer.Option("--scripted", help="Also scripted players' decisions, as text.")
    ] = False,
    min_return: Annotated[
        float | None, typer.Option(help="sft/kto: episodes where the agent's return >= X.")
    ] = None,
    top_fraction: Annotated[
        float | None, typer.Option(help="sft/kto: the best fraction of episodes per role.")
    ] = None,
    rank_by: Annotated[
        str | None, typer.Option(help="dpo/kto: return, hindsight (trial), metric_<name>.")
    ] = None,
    pairs: Annotated[str | None, typer.Option(help="dpo: best-worst or all.")] = None,
    counterfactual: Annotated[
        bool,
        typer.Option(
            "--counterfactual",
            help="dpo: also replay sampled states with every valid action (one episode each).",
        ),
    ] = False,
    max_states: Annotated[
        int | None, typer.Option(help="dpo --counterfactual: states to replay (default 32).")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="kto: label cut (default: the role's median).")
    ] = None,
    license: Annotated[
        str | None, typer.Option(help="The card's license (default apache-2.0, mercato's).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out.")] = False,
) -> None:
    """Write a run's decisions as a TRL (sft, dpo, kto) or Minari dataset; see docs/exports.md."""
    from sim.export import ExportError, export_run

    options: dict[str, Any] = {
        "roles": role, "cells": cell, "include_scripted": scripted or None,
        "min_return": min_return, "top_fraction": top_fraction, "rank_by": rank_by,
        "pairs": pairs, "threshold": threshold, "counterfactual": counterfactual or None,
        "max_states": max_states, "license": license,
    }  # fmt: skip
    if format == "minari" and agent:
        if len(agent) > 1:
            raise ExportError(f"minari datasets are single-agent; pass one --agent, not {agent}")
        options["agent"] = agent[0]
    else:
        options["agents"] = agent
    given = {name: value for name, value in options.items() if value is not None}
    result = export_run(run_dir, format, out, overwrite=overwrite, **given)
    typer.echo(result.summary())
