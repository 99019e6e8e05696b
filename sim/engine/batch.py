"""Batch runs: an experiment's shards of episodes, played in parallel on Ray, written atomically.

`run` plans the shards (fixed by the experiment, so re-runs see the same plan), skips the ones a
previous run finished, and plays the rest: in-process with ``workers=0``, else as Ray tasks on a
local instance sized to the machine or on an existing cluster (``address``). Each task writes its
shard's Parquet files atomically, so a killed worker loses only its unfinished shard (Ray retries
it) and a killed driver loses only unfinished shards (a re-run plays them). Models that load
weights are served by one `ModelServer` actor per node; each OpenAI-compatible endpoint by one
actor per run, so its concurrency limit holds across every worker.

Before anything is written, every model the run uses answers a preflight request (a dead
endpoint fails at once, exit 2). While shards come in, each model's share of decisions that fell
back is watched; a run over its ``max_fallback_rate`` stops starting shards and ends ``failed``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from envs.core.registry import make_env
from sim.engine.cluster import connect_ray
from sim.engine.experiment import Experiment, Shard, load_experiment
from sim.engine.fallbacks import (
    MIN_DECISIONS,
    FallbackRateError,
    add_tallies,
    manifest_totals,
    over_limit,
    tallies_of,
)
from sim.engine.records import LLMTally, StepColumns
from sim.engine.rollout import BATCHING, Batching, EnvPool, EpisodeJob, play, wants_batches
from sim.engine.roster import ModelPool, plan_roster
from sim.llm.preflight import PreflightError, describe_spec, preflight_all
from sim.llm.server import placement
from sim.store.lease import LeaseLost
from sim.store.runs import RunDir, load_episodes, open_run, pending_shards
from sim.store.shard_index import RunDamaged
from sim.store.storage import StoreError, explain


@dataclass(frozen=True)
class ShardSummary:
    """What one finished shard reports back to the driver."""

    shard_id: str
    episodes: int
    steps: int
    llm_tokens: int
    errors: int
    llm: dict[str, LLMTally]
    """Per model key: the shard's LLM decisions by path, requests, failures, tokens."""

    @property
    def llm_decisions(self) -> int:
        return sum(t.decisions for t in self.llm.values())

    @property
    def fallbacks(self) -> int:
        return sum(t.fallbacks for t in self.llm.values())


def play_shard(
    experiment: Experiment,
    shard: Shard,
    run_dir: RunDir,
    models: ModelPool,
    *,
    batching: Batching = BATCHING,
    on_drained: Callable[[], None] | None = None,
) -> ShardSummary:
    """Play one shard's episodes and write it atomically.

    The episodes of every cell with LLM players run in one lockstep, so model calls batch across
    cells (`Batching`); scripted cells run one episode after another. ``on_drained`` is called
    when the last LLM episode has started (see `sim.engine.rollout.play`).
    """
    by_cell: dict[str, list[Any]] = {}
    for spec in shard.episodes:
        by_cell.setdefault(spec.cell_id, []).append(spec)
    cells = {cell.cell_id: cell for cell in experiment.cells()}
    streams = [
        _cell_jobs(experiment, cells[cell_id], specs, run_dir, models)
        for cell_id, specs in by_cell.items()
    ]
    batched: list[list[EpisodeJob]] = []
    scripted: list[list[EpisodeJob]] = []
    for jobs in streams:
        llm_players = any(map(wants_batches, jobs[0].policies.values()))
        (batched if llm_players else scripted).append(jobs)
    lockstep = experiment.lockstep
    if batching.across_cells:
        batched = [[job for jobs in batched for job in jobs]] if batched else []
    results = []
    for n, jobs in enumerate(batched):
        drained = on_drained if n == len(batched) - 1 else None
        results += play(jobs, lockstep=lockstep, batching=batching, on_drained=drained)
    for jobs in scripted:
        results += play(jobs, lockstep=lockstep, batching=batching)
    run_dir.write_shard(shard.shard_id, [r.record for r in results], _merged_steps(results))
    tallies: dict[str, LLMTally] = {}
    for result in results:
        add_tallies(tallies, result.record.llm)
    return ShardSummary(
        shard.shard_id,
        len(results),
        sum(r.record.steps for r in results),
        sum(r.record.llm_tokens for r in results),
        sum(r.record.errors for r in results),
        tallies,
    )


def _cell_jobs(
    experiment: Experiment, cell: Any, specs: list[Any], run_dir: RunDir, models: ModelPool
) -> list[EpisodeJob]:
    """One cell's episodes of a shard as jobs: its env pool, a policy per agent per episode."""
    pool = EnvPool(lambda: make_env(experiment.env, cell.params))
    probe = pool.get()
    agents = list(probe.possible_agents)
    plans = plan_roster(cell.roster, experiment.env, agents, models, experiment.temperature)
    pool.put(probe)
    model_keys = {a: e.model for a, e in cell.roster.items() if e.model is not None}
    prices = experiment.prices()
    return [
        EpisodeJob(
            episode_id=spec.episode_id,
            seed=spec.seed,
            envs=pool,
            policies={a: plan.make(probe, spec.seed, a) for a, plan in plans.items()},
            policy_names={a: plan.label for a, plan in plans.items()},
            run_id=run_dir.run_id,
            cell_id=cell.cell_id,
            episode_index=spec.episode_index,
            env_id=experiment.env,
            params=dict(cell.params),
            model_keys=model_keys,
            prices=prices,
        )
        for spec in specs
    ]


def _merged_steps(results: list[Any]) -> StepColumns:
    steps = StepColumns()
    for result in results:
        steps.extend(result.steps)
    return steps


def run(
    experiment: str | Path | Mapping[str, Any] | Experiment,
    workers: int | None = None,
    address: str | None = None,
    out: str | Path | None = None,
    fresh: bool = False,
    on_progress: Callable[[ShardSummary, int, int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_models: Callable[[list[str]], None] | None = None,
    takeover: bool = False,
    checksums: bool = True,
    runtime_env: Mapping[str, Any] | None = None,
) -> Path | str:
    """Play an experiment; return its run location. Re-running resumes where it stopped.

    ``out`` is a folder or an object-store URI (``s3://bucket/prefix``; `sim.store.storage`).
    The run takes ``out``'s lease first (`sim.store.lease`: a second writer is refused;
    ``takeover`` replaces a stale one). ``workers=0`` plays in this process (no Ray); ``None``
    uses every CPU of a local Ray instance, or of the cluster at ``address`` (``"auto"``,
    ``"host:port"``, ``"ray://..."``).
    Every model is preflighted before anything is written (`PreflightError`). ``on_models(lines)``
    gets one summary line per model, ``on_start(total, already_done)`` and
    ``on_progress(shard_summary, done, total)`` report progress. A run whose fallback share passes
    ``max_fallback_rate`` raises `FallbackRateError` after marking its manifest ``failed``; a
    storage failure raises `StoreError` (one line) after marking it ``failed`` where it can.
    ``checksums=False`` commits shards without their sha256 (for measuring what hashing costs).
    ``runtime_env`` adds to what a cluster's workers get (`sim.engine.cluster.cluster_runtime_env`).
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    where = out if out is not None else Path("runs") / exp.name
    todo = pending_shards(where, exp, fresh)
    models: ModelPool | None = None
    servers: dict[str, dict[str, Any]] = {}
    run_dir: RunDir | None = None
    started = time.perf_counter()
    try:
        if todo:  # nothing left to play: no preflight, no Ray, no model loads
            if workers == 0:
                models = ModelPool(exp.models)
            else:
                connect_ray(address, workers, runtime_env)
                servers = _model_servers(exp)
                models = ModelPool(exp.models, build=_server_builder(servers, _this_node()))
            summaries = _preflight(exp, models)
            if on_models:
                on_models(summaries)
        run_dir = open_run(where, exp, fresh=fresh, takeover=takeover, checksums=checksums)
        done = run_dir.done_shards()
        shards = [s for s in exp.shards() if s.shard_id not in done]
        total = sum(len(s.episodes) for s in exp.shards())
        finished = total - sum(len(s.episodes) for s in shards)
        run_dir.update_manifest(
            status="running", workers=workers, address=address, **_cluster_fields(workers)
        )
        if on_start:
            on_start(total, finished)
        watch = _FallbackWatch(exp, run_dir, on_progress, finished, total)
        try:
            if shards and workers == 0 and models is not None:
                for shard in shards:
                    watch.take(play_shard(exp, shard, run_dir, models))
                    if watch.stop:
                        break
            elif shards:
                _run_on_ray(exp, shards, run_dir, workers, servers, watch)
        except StoreError as error:
            end_invocation(run_dir, "failed", started, failure=str(error))
            raise _with_lease_note(error, run_dir) from None
        except OSError as error:  # a filesystem failure outside sim.store.storage's own calls
            failure = f"{run_dir.location.name()}: {explain(error)}"
            end_invocation(run_dir, "failed", started, failure=failure)
            raise _with_lease_note(StoreError(failure), run_dir) from None
        except BaseException:  # Ctrl-C, a lost lease, a bug: finished shards stay committed
            end_invocation(run_dir, "interrupted", started)
            raise
        run_dir.remove_leftovers()  # files of replaced (damaged) shards
        _finish(exp, run_dir, watch, started)
        return run_dir.path
    finally:
        if run_dir is not None:
            run_dir.close()
        if models is not None:
            models.close()


def _with_lease_note(error: StoreError, run_dir: RunDir) -> StoreError:
    """The storage error, saying so when this writer could not let go of its lease."""
    if run_dir.close():
        return error
    return StoreError(f"{error}; this run could not release its lease: re-run with --takeover")


def end_invocation(run_dir: RunDir, status: str, started: float, **fields: Any) -> None:
    """Record how this invocation ended: status, wall time added to the run's total, and one
    entry in ``invocations``. Best effort: a run that cannot be written keeps its old manifest."""
    wall_s = time.perf_counter() - started
    try:
        manifest = run_dir.manifest
        ended = datetime.now(UTC)
        entry = {
            "started": (ended - timedelta(seconds=wall_s)).isoformat(timespec="seconds"),
            "ended": ended.isoformat(timespec="seconds"),
            "wall_s": round(wall_s, 3),
            "host": socket.gethostname(),
            "status": status,
        }
        run_dir.update_manifest(
            status=status,
            wall_s=manifest.wall_s + wall_s,
            invocations=[*manifest.invocations, entry],
            **fields,
        )
    except (StoreError, LeaseLost, OSError, ValueError):
        pass


def _cluster_fields(workers: int | None) -> dict[str, Any]:
    """The Ray cluster's nodes as the driver sees them (none for in-process runs)."""
    if workers == 0:
        return {"cluster": None}
    import ray

    if not ray.is_initialized():
        return {"cluster": None}
    nodes = [
        {
            "node_id": node["NodeID"],
            "host": node.get("NodeManagerHostname"),
            "ip": node.get("NodeManagerAddress"),
            "cpus": node.get("Resources", {}).get("CPU"),
            "alive": node["Alive"],
        }
        for node in ray.nodes()
    ]
    return {"cluster": {"nodes": nodes}}


def _preflight(exp: Experiment, models: ModelPool) -> list[str]:
    """Preflight every model the roster uses; its summary lines."""
    refs = sorted({e.model for c in exp.cells() for e in c.roster.values() if e.model is not None})
    return preflight_all({ref: (models.spec_of(ref), models.get(ref)) for ref in refs})


class _FallbackWatch:
    """Counts shards in, marks those over a model's fallback limit for replay, says when to stop."""

    def __init__(
        self,
        exp: Experiment,
        run_dir: RunDir,
        on_progress: Callable[[ShardSummary, int, int], None] | None,
        finished: int,
        total: int,
    ) -> None:
        self.exp, self.run_dir, self.on_progress = exp, run_dir, on_progress
        self.finished, self.total = finished, total
        self.tallies: dict[str, LLMTally] = {}
        self.stop = False

    def take(self, summary: ShardSummary) -> None:
        self.finished += summary.episodes
        add_tallies(self.tallies, summary.llm)
        before = set(self.run_dir.manifest.replay_shards)
        replay = set(before)
        if over_limit(summary.llm, self.exp.fallback_limit):
            replay.add(summary.shard_id)
        else:
            replay.discard(summary.shard_id)
        if replay != before:
            self.run_dir.update_manifest(replay_shards=sorted(replay))
        if over_limit(self.tallies, self.exp.fallback_limit, MIN_DECISIONS):
            self.stop = True
        if self.on_progress:
            self.on_progress(summary, self.finished, self.total)


def _finish(exp: Experiment, run_dir: RunDir, watch: _FallbackWatch, started: float) -> None:
    """Total the run's LLM decisions per model (every episode on disk) and give the verdict."""
    episodes = load_episodes(run_dir.location)
    tallies = tallies_of(episodes.get("llm_by_model", []))
    problems = over_limit(tallies, exp.fallback_limit)
    if problems:
        message = "; ".join(problems)
        left = len(exp.shards()) - len(run_dir.done_shards())
        if left:
            message += f" ({left} shard(s) not played or to replay: a re-run resumes)"
        end_invocation(run_dir, "failed", started, failure=message, llm=manifest_totals(tallies))
        raise FallbackRateError(f"run failed: {message}", run_dir.path)
    end_invocation(run_dir, "complete", started, failure=None, llm=manifest_totals(tallies))


ANY_NODE = "*"
"""The `_model_servers` slot of a server that serves every node (an endpoint's client actor)."""


def _model_servers(exp: Experiment) -> dict[str, dict[str, Any]]:
    """Model-serving actors: spec key -> node id (or `ANY_NODE`) -> actor.

    A weight-loading spec gets one `ModelServer` per node (one copy of the weights per machine);
    an OpenAI-compatible endpoint gets one per run, so its ``max_concurrency`` and circuit breaker
    hold across every worker of the run.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from sim.engine.records import to_json
    from sim.llm.server import ModelServer

    pool = ModelPool(exp.models)
    refs = {e.model for cell in exp.cells() for e in cell.roster.values() if e.model is not None}
    specs = {to_json(pool.spec_of(ref)): pool.spec_of(ref) for ref in refs}
    server_cls = ray.remote(num_cpus=0)(ModelServer)
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    handles: dict[str, dict[str, Any]] = {}
    for key, spec in specs.items():
        where = placement(spec)
        if where == "node":
            handles[key] = {
                node: server_cls.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
                ).remote(spec)
                for node in nodes
            }
        elif where == "run":
            handles[key] = {ANY_NODE: server_cls.remote(spec)}
    for key, per_node in handles.items():  # wait for loads: a missing model fails here, in one
        try:  # line, before the run directory is opened
            ray.get([h.identity.remote() for h in per_node.values()])
        except ray.exceptions.RayActorError as error:
            for handle in (h for servers in handles.values() for h in servers.values()):
                ray.kill(handle)
            names = sorted(str(r) for r in refs if to_json(pool.spec_of(r)) == key)
            where = f"model {', '.join(names)} ({describe_spec(specs[key])})"
            raise PreflightError(f"{where} did not load: {_last_line(error)}") from None
    return handles


def _last_line(error: BaseException) -> str:
    """The cause of a Ray actor's failed start: the last line of its traceback, without the
    exception's class name (``local model 'x': no transformers folder ...``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    name, sep, rest = last.partition(": ")
    return rest if sep and name.replace(".", "").replace("_", "").isalnum() else last


def _this_node() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _server_builder(servers: dict[str, dict[str, Any]], node: str) -> Callable[[Any], Any]:
    """Build a spec's model: a `RemoteModel` of this node's (or the run's) server where there is
    one, else the model itself (the fake backend)."""
    identities: dict[str, dict[str, Any]] = {}

    def build(spec: Any) -> Any:
        import ray

        from sim.engine.records import to_json
        from sim.llm import make_model
        from sim.llm.server import RemoteModel

        key = to_json(spec)
        if key in servers:
            per_node = servers[key]
            handle = per_node.get(node, per_node.get(ANY_NODE))
            if key not in identities:
                identities[key] = ray.get(handle.identity.remote())
            return RemoteModel(handle, **identities[key])
        return make_model(spec)

    return build


def _shard_task(
    exp_dict: dict[str, Any],
    shard: Shard,
    run_spec: str,
    owner: str,
    servers: dict[str, dict[str, Any]],
) -> ShardSummary:
    """Body of the Ray task: rebuild the experiment, route models to their serving actors, and
    commit the shard straight to the run's location for the writer that holds its lease."""
    from sim.store.runs import RunDir

    exp = load_experiment(exp_dict)
    models = ModelPool(exp.models, build=_server_builder(servers, _this_node()))
    try:
        return play_shard(exp, shard, RunDir(run_spec, owner=owner), models)
    finally:
        models.close()


def _run_on_ray(
    exp: Experiment,
    shards: list[Shard],
    run_dir: RunDir,
    workers: int | None,
    servers: dict[str, dict[str, Any]],
    watch: _FallbackWatch,
) -> None:
    import ray

    task = ray.remote(num_cpus=1, max_retries=3)(_shard_task)
    exp_dict = exp.resolved()
    limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    queue = list(shards)
    in_flight: list[Any] = []
    # On Ctrl-C the in-flight shards are left alone: the job's workers stop when this driver
    # exits, and a shard is written whole or not at all. (Force-cancelling them raced Ray's own
    # task bookkeeping and could abort the driver.) A fallback stop starts no new shard but lets
    # the running ones finish.
    while queue or in_flight:
        while queue and len(in_flight) < limit and not watch.stop:
            shard = queue.pop(0)
            spec, owner = run_dir.location.spec, str(run_dir.owner)
            in_flight.append(task.remote(exp_dict, shard, spec, owner, servers))
        if not in_flight:
            break
        ready, in_flight = ray.wait(in_flight, num_returns=1)
        for ref in ready:
            watch.take(_task_result(ref))


def _task_result(ref: Any) -> ShardSummary:
    """A shard task's summary; a task that failed on storage or a lost lease re-raises that
    error as itself (one line), not wrapped in Ray's traceback."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, (StoreError, LeaseLost, RunDamaged)):
            raise cause from None
        raise
