"""The `mercato` command line."""

from __future__ import annotations

import functools
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

# The command line and the engine behind it come with the ray extra, not the core install.
_ENGINE = ("typer", "rich", "ray", "pyarrow", "pydantic", "orjson", "matplotlib")
_MISSING = [name for name in _ENGINE if importlib.util.find_spec(name) is None]
if _MISSING:
    raise SystemExit(
        f"mercato: the command line needs the ray extra ({', '.join(_MISSING)} missing): "
        "pip install 'mercato[ray]'"
    )

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

app = typer.Typer(
    help="mercato: simulated markets, games, trials and dialogues for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Local language models: pull and list.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks, reported as ratios measured in one run.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
console = Console()
EXIT_RUN_FAILED = 3
"""`mercato run`'s exit status for a run that ended ``failed`` (its LLM decisions fell back)."""


def exits_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into one `error: ...` line on stderr and exit status 2 (bad input,
    a run another writer holds), 1 (storage failures); a run that ended ``failed`` (too many LLM
    fallbacks) exits with `EXIT_RUN_FAILED`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sim.fallbacks import FallbackRateError
        from sim.llm.errors import LLMError
        from sim.storage import StoreError

        try:
            return command(*args, **kwargs)
        except StoreError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        except FallbackRateError as error:
            typer.echo(f"error: {error}", err=True)
            typer.echo(f"run directory: {error.run_dir}", err=True)
            raise typer.Exit(EXIT_RUN_FAILED) from None
        except (LLMError, ValueError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


@models_app.command("pull")
@exits_cleanly
def models_pull(
    name: Annotated[str, typer.Argument(help="Bundled model to obtain.")] = "smollm2-135m-instruct",
    force: Annotated[bool, typer.Option(help="Convert again even if present.")] = False,
) -> None:
    """Obtain a bundled model and convert it once into the cache (idempotent)."""
    from sim.llm.model_store import bundled_model, is_complete, model_path, pull

    bundled_model(name)
    if is_complete(model_path(name)) and not force:
        console.print(f"{name}: already in {model_path(name)}")
        return
    started = time.perf_counter()
    console.print(f"{name}: converting (one time, about 30 s on 2 cores)...")
    folder = pull(name, force=force)
    console.print(f"{name}: ready in {folder} ({time.perf_counter() - started:.1f} s)")


@models_app.command("list")
@exits_cleanly
def models_list() -> None:
    """Show the models mercato knows and which are pulled."""
    from sim.llm.model_store import list_models

    table = Table()
    table.add_column("name", no_wrap=True)
    for title in ("pulled", "size"):
        table.add_column(title, no_wrap=True)
    table.add_column("path", overflow="fold")
    table.add_column("about")
    for entry in list_models():
        size = f"{entry.size_mb:.0f} MB" if entry.pulled else "-"
        table.add_row(
            entry.name, "yes" if entry.pulled else "no", size, str(entry.path), entry.summary
        )
    console.print(table)


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--batch-sizes: expected comma-separated integers, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--batch-sizes: expected integers >= 1, got {text!r}")
    return sizes


@bench_app.command("llm")
@exits_cleanly
def bench_llm(
    model: Annotated[
        str, typer.Option(help="Model spec, e.g. local, fake, openai:M@URL.")
    ] = "local",
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes.")] = "1,8,32",
    max_tokens: Annotated[int, typer.Option(min=1, help="New tokens per request.")] = 64,
    rounds: Annotated[int, typer.Option(min=1, help="Calls per batch size.")] = 1,
    structured: Annotated[
        bool,
        typer.Option(
            "--structured",
            help="Instead: per env family, the share of LLM decisions parsed from the first "
            "reply with structured replies on and off, and constrained vs free decoding speed.",
        ),
    ] = False,
) -> None:
    """Tokens/s of a model at several batch sizes, and batched/sequential ratios."""
    from sim.bench import bench_generate
    from sim.llm import make_model

    if structured:
        _bench_structured(model, max_tokens, rounds)
        return
    sizes = _parse_sizes(batch_sizes)
    llm = make_model(model)
    console.print(f"benchmarking {llm!r}: batch sizes {sizes}, {max_tokens} new tokens, greedy")
    rows = bench_generate(llm, sizes, max_tokens=max_tokens, rounds=rounds)
    base = next((r.tokens_per_s for r in rows if r.batch_size == 1), rows[0].tokens_per_s)
    base_label = (
        "batch 1" if any(r.batch_size == 1 for r in rows) else f"batch {rows[0].batch_size}"
    )
    table = Table("batch", "calls", "tokens", "seconds", "tokens/s", f"x {base_label}")
    for r in rows:
        ratio = r.tokens_per_s / base if base else float("nan")
        table.add_row(
            str(r.batch_size),
            str(r.calls),
            str(r.completion_tokens),
            f"{r.seconds:.2f}",
            f"{r.tokens_per_s:.1f}",
            f"{ratio:.2f}",
        )
    console.print(table)
    best = max(rows, key=lambda r: r.batch_size)
    console.print(
        f"batched/sequential ratio (batch {best.batch_size} vs {base_label}): "
        f"{best.tokens_per_s / base:.2f}x"
        if base
        else "no baseline"
    )


def _bench_structured(model: str, max_tokens: int, rounds: int) -> None:
    """`mercato bench llm --structured`: parse shares per family, then decoding speed."""
    from sim.bench_families import FAMILY_CASES, STRUCTURED_ON, family_share
    from sim.bench_structured import structured_speed
    from sim.llm import make_model
    from sim.llm.spec import parse_spec

    spec = parse_spec(model) if isinstance(model, str) else dict(model)
    on = STRUCTURED_ON.get(spec["backend"], "json_schema")
    console.print(f"parse share per family: {model}, structured {on} vs off, one reply each")
    table = Table("family", "decisions", f"parsed ({on})", "parsed (off)", "s on", "s off")
    for case in FAMILY_CASES:
        with_schema, without = family_share(case, spec, on), family_share(case, spec, "off")
        console.print(
            f"  {case.family}: {with_schema.decisions} decisions, parsed {with_schema.share:.1%} "
            f"({on}) vs {without.share:.1%} (off)"
        )
        table.add_row(
            case.family, str(with_schema.decisions), f"{with_schema.share:.1%}",
            f"{without.share:.1%}", f"{with_schema.seconds:.0f}", f"{without.seconds:.0f}",
        )  # fmt: skip
    console.print(table)
    llm = make_model({**spec, "structured": on})
    try:
        speed = structured_speed(llm, batch_size=32, max_tokens=max_tokens, rounds=rounds)
    finally:
        llm.close()
    console.print(speed.summary())


@bench_app.command("engine")
@exits_cleanly
def bench_engine(
    episodes: Annotated[
        int, typer.Option(min=1, help="Episodes for the one-process rates.")
    ] = 20_000,
    ray_episodes: Annotated[
        int, typer.Option(min=1, help="Episodes per Ray scaling run.")
    ] = 10_000,
    workers: Annotated[int, typer.Option(min=2, help="Workers to compare with one.")] = 2,
    scripted: Annotated[bool, typer.Option(help="Measure scripted play and Ray scaling.")] = True,
    llm: Annotated[bool, typer.Option(help="Also measure LLM rollouts (minutes on CPU).")] = True,
    model: Annotated[str, typer.Option(help="Model spec for the LLM rows.")] = "local",
    llm_episodes: Annotated[int, typer.Option(min=2, help="Episodes of the batched LLM run.")] = 32,
) -> None:
    """Engine speed: env steps/s, recorded rollouts/s, Ray scaling, LLM batching, memory."""
    from sim import bench_engine as b

    rows: list[b.Rate] = []
    notes: list[str] = []
    with b.scratch() as work, b.PeakMemory() as memory:
        if scripted:
            rows.append(b.env_loop(episodes))
            rows.append(b.recorded_run(episodes, work))
            one, many = b.ray_run(ray_episodes, 1, work), b.ray_run(ray_episodes, workers, work)
            rows += [one, many]
            notes.append(
                f"Ray scaling: {workers} workers / 1 = {many.per_second / one.per_second:.2f}x"
            )
        if llm:
            from sim.bench_families import FAMILY_CASES

            games = FAMILY_CASES[0]  # bargaining, both players LLMs
            # on Ray first, so this process holds no model of its own while memory is sampled
            with b.PeakMemory() as llm_memory:
                on_ray = b.llm_rollouts(games, llm_episodes, 32, model, work, workers=workers)
            sequential = b.llm_rollouts(games, max(2, llm_episodes // 4), 1, model, work)
            families = [
                b.llm_rollouts(case, -(-case.episodes * llm_episodes // 16), 32, model, work)
                for case in FAMILY_CASES
            ]
            batched = families[0]
            rows += [on_ray, sequential, *families]
            ratio = batched.per_second / sequential.per_second if sequential.per_second else 0.0
            notes.append(
                f"LLM bargaining, lockstep 32 / one call at a time = {ratio:.2f}x tokens/s"
            )
            notes.append(
                f"peak memory (PSS, all processes), LLM run on {workers} Ray workers: "
                f"{llm_memory.peak_bytes / 2**30:.2f} GiB"
            )
    table = Table("measurement", "amount", "seconds", "rate")
    for r in rows:
        rate = f"{r.per_second:,.1f} {r.unit}/s"
        table.add_row(r.label, f"{r.amount:,.0f} {r.unit}", f"{r.seconds:.2f}", rate)
    console.print(table)
    notes.append(
        f"peak memory (PSS, all processes), whole benchmark: {memory.peak_bytes / 2**30:.2f} GiB"
    )
    for note in notes:
        console.print(note)


def parse_overrides(items: list[str], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings as a dict, each value read as YAML (``8`` is an int)."""
    import yaml

    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{option}: {item!r} is not KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


@bench_app.command("batching")
@exits_cleanly
def bench_batching(
    presets: Annotated[str, typer.Option(help="Comma-separated: trial, market.")] = "trial,market",
    model: Annotated[str, typer.Option(help="Model spec of the LLM player.")] = "local",
    lockstep: Annotated[int, typer.Option(min=1, help="Lockstep width.")] = 32,
    episodes: Annotated[
        int | None, typer.Option(min=1, help="Episodes per cell (default: the preset's).")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Reply budget (default: the protocol's).")
    ] = None,
    before: Annotated[
        bool, typer.Option(help="Also play the former scheduling (off: only the engine ratio).")
    ] = True,
    param: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE override of the preset's env params (repeatable)."),
    ] = None,
) -> None:
    """Model batch sizes before and after cross-cell lockstep; rollout vs replayed model calls."""
    from sim.bench_batching import PRESETS, measure

    names = [n.strip() for n in presets.split(",") if n.strip()]
    unknown = [n for n in names if n not in PRESETS]
    if unknown or not names:
        raise typer.BadParameter(f"--presets: {unknown or names} not in {sorted(PRESETS)}")
    overrides = parse_overrides(param or [], "--param")
    for name in names:
        console.print(f"{PRESETS[name].name}: playing, then replaying the model calls ...")
        report = measure(
            name, model, lockstep, episodes, max_tokens, with_before=before, params=overrides
        )
        table = Table(
            "scheduling", "calls", "mean batch", "while full", "fill", "tokens/s", "seconds",
            title=report.preset,
        )  # fmt: skip
        for m in (report.before, report.after):
            if m is None:
                continue
            full = m.mean_batch(while_full=True)
            table.add_row(
                m.label, str(len(m.log.calls)), f"{m.mean_batch():.1f}", f"{full:.1f}",
                f"{full / m.lockstep:.2f}", f"{m.tokens_per_s:,.1f}", f"{m.seconds:.1f}",
            )  # fmt: skip
        console.print(table)
        console.print(
            f"rollout / replayed model calls: {report.engine_ratio:.2f} of the model layer's "
            f"tokens/s (target >= 0.8); fill while full: "
            f"{report.after.mean_batch(while_full=True) / lockstep:.2f} of lockstep {lockstep} "
            "(target >= 0.8)"
        )


@bench_app.command("store")
@exits_cleanly
def bench_store(
    episodes: Annotated[
        int, typer.Option(min=1, help="Games per GLEE cell (the full grid has 30).")
    ] = 3,
    repeats: Annotated[int, typer.Option(min=1, help="Runs per setting (medians).")] = 3,
    s3: Annotated[bool, typer.Option(help="Also measure S3 (moto's server on 127.0.0.1).")] = True,
) -> None:
    """Verified shard commits and loads vs none: the scripted GLEE grid, local disk and S3."""
    from sim.bench_store import bench

    console.print(f"scripted GLEE grid, {episodes} game(s) per cell, in-process ...")
    table = Table(
        "location", "shards", "plain s", "verified s", "ratio", "commit ms/shard", "verified load s"
    )
    for t in bench(episodes, repeats, s3):
        table.add_row(
            t.location, str(t.shards), f"{t.plain_s:.2f}", f"{t.verified_s:.2f}",
            f"{t.ratio:.3f}x", f"{t.commit_s_per_shard * 1000:.1f}", f"{t.verified_load_s:.2f}",
        )  # fmt: skip
    console.print(table)
    console.print("ratio: wall time with sha256 commits and verified loads over without "
                  "(target <= 1.1x)")  # fmt: skip


@bench_app.command("market")
@exits_cleanly
def bench_market(
    scales: Annotated[
        str, typer.Option(help="Comma-separated customer counts (businesses are 3x).")
    ] = "100,10000",
    domain: Annotated[str, typer.Option(help="restaurants or contractors.")] = "restaurants",
    algorithm: Annotated[str, typer.Option(help="Search algorithm of the customers.")] = "lexical",
    seed: Annotated[int, typer.Option(help="Market and episode seed.")] = 0,
) -> None:
    """One scripted marketplace episode per scale, one core each: time, ticks, peak memory."""
    from sim.bench_market import REFERENCE_100_300_S, measure

    try:
        counts = [int(part) for part in scales.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"--scales must be comma-separated ints, got {scales!r}") from None
    table = Table(
        "market", "build s", "episode s", "ticks", "decisions", "welfare / optimal", "peak RSS GiB"
    )
    for count in counts:
        console.print(f"playing {count}/{3 * count} ...")
        t = measure(count, domain=domain, seed=seed, algorithm=algorithm)
        ratio = t.welfare / t.optimal_welfare if t.optimal_welfare else float("nan")
        table.add_row(
            f"{t.customers}/{t.businesses}", f"{t.build_s:.2f}", f"{t.episode_s:.3f}",
            str(t.ticks), f"{t.decisions:,}", f"{ratio:.3f}", f"{t.peak_rss_gib:.2f}",
        )  # fmt: skip
        if count <= 1000:
            v = measure(count, domain=domain, seed=seed, algorithm=algorithm, text=True)
            table.add_row(
                f"{v.customers}/{v.businesses} + text views", f"{v.build_s:.2f}",
                f"{v.episode_s:.3f}", str(v.ticks), f"{v.decisions:,}",
                f"{v.welfare / v.optimal_welfare:.3f}", f"{v.peak_rss_gib:.2f}",
            )  # fmt: skip
        if count == 100:
            console.print(
                f"100/300 episode: {t.episode_s:.3f} s vs the reference platform's "
                f"{REFERENCE_100_300_S} s (Postgres) = {REFERENCE_100_300_S / t.episode_s:,.0f}x"
            )
    console.print(table)


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
    from sim.batch import run
    from sim.progress import RunProgress
    from sim.storage import child_uri
    from sim.suite import load_suite, suite_members, suite_name

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
    from sim.storage import redact

    return redact(str(where))


def _show_models(lines: list[str]) -> None:
    """The run's models, each preflighted: backend, endpoint, structured mode, where keys go."""
    for line in lines:
        console.print(f"model {line}", markup=False, highlight=False)


@app.command("demo")
@exits_cleanly
def demo(
    model: Annotated[str, typer.Option(help="Model spec.")] = "local",
) -> None:
    """A smoke run: the model answers one chat prompt and one constrained choice."""
    from sim.demo import run_demo

    run_demo(model, console)


@app.command("envs")
@exits_cleanly
def envs_list() -> None:
    """List the registered environments and their parameters (with defaults)."""
    import envs

    registered = envs.list_envs()
    if not registered:
        console.print("no environments registered yet")
        return
    table = Table()
    for title in ("id", "kind", "family"):
        table.add_column(title, no_wrap=True)
    table.add_column("summary")
    table.add_column("parameters", overflow="fold")
    for info in registered:
        table.add_row(info.id, info.kind, info.family, info.summary, _parameters_text(info))
    console.print(table)


def _parameters_text(info: Any) -> str:
    """One ``name=default`` line per parameter: from the env's `Params` where its spec has one,
    else its constructor's signature (an env that fails to load says why)."""
    from sim.experiment import REQUIRED, env_parameters

    if info.params is not None:
        return "\n".join(f"{row.name}={row.default!r}" for row in info.params.table())
    env_id = info.id
    try:
        parameters = env_parameters(env_id)
    except (ImportError, TypeError, ValueError) as error:
        return f"unavailable: {error}"
    return "\n".join(
        name if default is REQUIRED else f"{name}={default!r}"
        for name, default in parameters.items()
    )


@app.command("verify")
@exits_cleanly
def verify(
    run: Annotated[str, typer.Argument(help="A run directory or object-store URI.")],
) -> None:
    """Check every shard of a run (episodes and steps) against its commit record.

    Prints one line per problem. Exit status 0 when every committed shard verifies (and a
    complete run has all its shards), 1 when something is damaged, foreign or missing.
    """
    from sim.lease import writer_state
    from sim.shard_index import audit, planned_shard_ids
    from sim.storage import Location
    from sim.store import read_manifest

    location = Location.of(run)
    manifest = read_manifest(location)
    result = audit(location, manifest)
    planned = planned_shard_ids(manifest)
    total = len(planned) if planned is not None else len(result.ok) + len(result.damaged)
    state = writer_state(location, manifest.get("status"))
    console.print(
        f"{location.name()}: {manifest.get('name')} ({state}): "
        f"{len(result.ok)} of {total} shard(s) verified",
        markup=False, highlight=False,
    )  # fmt: skip
    lines = [f"DAMAGED {shard}: {why}" for shard, why in sorted(result.damaged.items())]
    lines += [f"FOREIGN {what}" for what in result.foreign]
    complete = manifest.get("status") == "complete"
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
    from sim.storage import Location
    from sim.store import MANIFEST

    location = Location.of(run_dir)
    if not location.local:
        _report_one(run_dir, into)
        return
    root = Path(location.root)
    members = sorted(p.parent for p in root.glob(f"*/{MANIFEST}"))
    for folder in members if not (root / MANIFEST).exists() and members else [root]:
        _report_one(str(folder), into / folder.name if into and folder != root else into)


def _report_one(run_dir: str, into: Path | None) -> None:
    from sim.lease import writer_state
    from sim.report import (
        build_llm_report,
        build_report,
        copied_cells,
        llm_report_table,
        report_table,
        write_report,
    )
    from sim.storage import Location
    from sim.store import read_manifest

    location = Location.of(run_dir)
    manifest = read_manifest(location)
    if into is None and not location.local:
        into = Path("reports") / str(manifest["name"])
    into = into if into is not None else Path(location.root)
    table = build_report(run_dir)
    cells = table["cell_id"].nunique()
    state = writer_state(location, manifest.get("status"))
    console.print(f"{manifest['name']} ({state}): {cells} cell(s) with results")
    if manifest.get("failure"):
        console.print(f"[bold red]run failed:[/] {manifest['failure']}", highlight=False)
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


def _study_report(run_dir: str, manifest: dict, into: Path) -> None:
    """The study-form table of envs whose spec declares one (the manipulation trial's)."""
    from envs.core.registry import spec_of
    from sim.store import load_episodes
    from sim.study_report import study_report

    try:
        form = spec_of(str(manifest.get("env"))).study
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
    from sim.importer import import_games
    from sim.store import read_manifest

    run_dir = import_games("glee", source_dir, out, fresh=fresh)
    manifest = read_manifest(run_dir)
    games, plan = manifest["games"], manifest["plan"]
    console.print(
        f"imported {games['imported']} of {games['found']} game(s) into {plan['cells']} cell(s); "
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
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out.")] = False,
) -> None:
    """Write a run's decisions as a TRL (sft, dpo, kto) or Minari dataset; see docs/exports.md."""
    from sim.export import ExportError, export_run

    options: dict[str, Any] = {
        "roles": role, "cells": cell, "include_scripted": scripted or None,
        "min_return": min_return, "top_fraction": top_fraction, "rank_by": rank_by,
        "pairs": pairs, "threshold": threshold, "counterfactual": counterfactual or None,
        "max_states": max_states,
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


def main() -> None:
    """Entry point for `python -m sim.cli`."""
    app()


if __name__ == "__main__":
    sys.exit(main())
