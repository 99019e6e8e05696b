"""`mercato bench ...`: each benchmark prints rates and the ratios measured in one run."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from sim.cli.app import bench_app, console, exits_cleanly


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
    from sim.bench.llm import bench_generate
    from sim.llm import make_model

    if structured:
        _bench_structured(model, max_tokens, rounds)
        return
    sizes = _parse_sizes(batch_sizes)
    llm = make_model(model)
    console.print(
        f"benchmarking {llm!r}: batch sizes {sizes}, up to {max_tokens} new tokens per request, "
        "greedy"
    )
    rows = bench_generate(llm, sizes, max_tokens=max_tokens, rounds=rounds)
    base = next((r.tokens_per_s for r in rows if r.batch_size == 1), rows[0].tokens_per_s)
    base_label = (
        "batch 1" if any(r.batch_size == 1 for r in rows) else f"batch {rows[0].batch_size}"
    )
    table = Table(
        "batch", "calls", "tokens", "per request", "seconds", "tokens/s", f"x {base_label}"
    )
    for r in rows:
        ratio = r.tokens_per_s / base if base else float("nan")
        table.add_row(
            str(r.batch_size),
            str(r.calls),
            str(r.completion_tokens),
            f"{r.completion_tokens / (r.batch_size * r.calls):.1f}",
            f"{r.seconds:.2f}",
            f"{r.tokens_per_s:.1f}",
            f"{ratio:.2f}",
        )
    console.print(table)
    generated = sum(r.completion_tokens for r in rows)
    requests = sum(r.batch_size * r.calls for r in rows)
    if generated < max_tokens * requests:
        console.print(
            f"replies ended before {max_tokens} tokens ({generated / requests:.1f} per request on "
            "average: the model stopped by itself); tokens/s counts the tokens generated"
        )
    best = max(rows, key=lambda r: r.batch_size)
    console.print(
        f"batched/sequential ratio (batch {best.batch_size} vs {base_label}): "
        f"{best.tokens_per_s / base:.2f}x"
        if base
        else "no baseline"
    )


def _bench_structured(model: str, max_tokens: int, rounds: int) -> None:
    """`mercato bench llm --structured`: parse shares per family, then decoding speed."""
    from sim.bench.families import FAMILY_CASES, STRUCTURED_ON, family_share
    from sim.bench.structured import structured_speed
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
    from sim.bench import engine as b

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
            from sim.bench.families import FAMILY_CASES

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
    from sim.bench.batching import PRESETS, measure

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
    from sim.bench.store import bench

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
    from sim.bench.market import REFERENCE_100_300_S, measure

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


@bench_app.command("studio")
@exits_cleanly
def bench_studio(
    participants: Annotated[int, typer.Option(min=1, help="Simulated participants at once.")] = 50,
    rounds: Annotated[
        int, typer.Option(min=1, help="Participations each, one after the other.")
    ] = 2,
    rate: Annotated[
        float, typer.Option(min=1.0, help="Decisions/s the paced crowd offers (latency load).")
    ] = 200.0,
    study: Annotated[
        str | None,
        typer.Option(help="A study YAML with scripted opponents (default: the bench preset's)."),
    ] = None,
) -> None:
    """Decisions/s a studio server sustains for concurrent scripted participants, and latency."""
    import os
    from pathlib import Path

    from sim.bench.studio import TARGET_DECISIONS_PER_S, TARGET_MEDIAN_MS, bench
    from sim.studio.studies import read_study_yaml

    data = None
    if study is not None:
        data = read_study_yaml(Path(study))
        data.setdefault("name", Path(study).stem)
    console.print(
        f"studio server (uvicorn subprocess, 127.0.0.1): {participants} participants x "
        f"{rounds} participations over HTTP, as fast as answered, then paced at {rate:g} "
        "decisions/s ..."
    )
    fast = bench(participants, rounds, data)
    paced = bench(participants, rounds, data, rate=rate)
    table = Table("measurement", "as fast as answered", f"paced: {rate:g}/s offered", "target")
    table.add_row(
        "decisions/s (timed phase)", f"{fast.decisions_per_s:,.1f}", "-",
        f">= {TARGET_DECISIONS_PER_S:.0f}",
    )  # fmt: skip
    table.add_row(
        "decisions/s (first to last decision)", f"{fast.steady_per_s:,.1f}",
        f"{paced.steady_per_s:,.1f}", f">= {TARGET_DECISIONS_PER_S:.0f}",
    )  # fmt: skip
    table.add_row(
        "median page latency ms", f"{fast.median_ms:.1f}", f"{paced.median_ms:.1f}",
        f"< {TARGET_MEDIAN_MS:.0f} (paced)",
    )  # fmt: skip
    table.add_row("p95 page latency ms", f"{fast.p95_ms:.1f}", f"{paced.p95_ms:.1f}", "")
    table.add_row(
        "decisions accepted (refused)",
        f"{fast.decisions} ({fast.refused})", f"{paced.decisions} ({paced.refused})", "",
    )  # fmt: skip
    table.add_row("decisions sent late (server behind)", "-", str(paced.late), "0")
    table.add_row("requests", str(fast.requests), str(paced.requests), "")
    planned = participants * rounds
    table.add_row(
        "participations completed", f"{fast.completed} / {planned}",
        f"{paced.completed} / {planned}", "",
    )  # fmt: skip
    table.add_row("timed phase s", f"{fast.game_s:.2f}", f"{paced.game_s:.2f}", "")
    table.add_row(
        "server CPU s, with its committer (participants')",
        f"{fast.server_cpu_s:.2f} ({fast.client_cpu_s:.2f})",
        f"{paced.server_cpu_s:.2f} ({paced.client_cpu_s:.2f})", "",
    )  # fmt: skip
    table.add_row("errors", str(len(fast.errors)), str(len(paced.errors)), "0")
    console.print(table)
    verdict = (
        f"capacity {fast.decisions_per_s / TARGET_DECISIONS_PER_S:.2f}x the target; median "
        f"latency at {rate:g}/s {TARGET_MEDIAN_MS / max(paced.median_ms, 1e-9):.2f}x the target "
        "(above 1 meets it)"
    )
    console.print(verdict)
    for error in (fast.errors + paced.errors)[:5]:
        console.print(f"  error: {error}")
    cores = os.cpu_count()
    console.print(
        f"{cores} cores; load average before {fast.load_before[0]:.2f}, after "
        f"{paced.load_after[0]:.2f} (the participants run on the same machine as the server)"
    )
