"""Batch runs: an experiment's shards of episodes, played in parallel on Ray, written atomically.

`run` plans the shards (fixed by the experiment, so re-runs see the same plan), skips the ones a
previous run finished, and plays the rest: in-process with ``workers=0``, else as Ray tasks on a
local instance sized to the machine or on an existing cluster (``address``). Each task writes its
shard's Parquet files atomically, so a killed worker loses only its unfinished shard (Ray retries
it) and a killed driver loses only unfinished shards (a re-run plays them). Models that load
weights are served by one `ModelServer` actor per node.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.experiment import Experiment, Shard, load_experiment
from sim.llm.server import is_served_per_node
from sim.records import StepColumns
from sim.rollout import EnvPool, EpisodeJob, play
from sim.roster import ModelPool, plan_roster
from sim.store import RunDir, open_run

RAY_NAMESPACE = "mercato"


@dataclass(frozen=True)
class ShardSummary:
    """What one finished shard reports back to the driver."""

    shard_id: str
    episodes: int
    steps: int
    llm_tokens: int
    errors: int


def make_env(env_id: str, params: Mapping[str, Any]) -> Any:
    """A registered environment: its AEC form (the rollout strips its wrappers), or for a
    Parallel-only environment the Parallel env itself (the rollout steps it natively)."""
    import pettingzoo

    import envs

    kinds = {info.kind for info in envs.list_envs() if info.id == env_id}
    if kinds == {"parallel"}:
        return pettingzoo.make("parallel", env_id, **params)
    return pettingzoo.make("aec", env_id, **params)


def play_shard(
    experiment: Experiment, shard: Shard, run_dir: RunDir, models: ModelPool
) -> ShardSummary:
    """Play one shard's episodes (lockstep within each cell) and write it atomically."""
    cells = {cell.cell_id: cell for cell in experiment.cells()}
    results = []
    by_cell: dict[str, list[Any]] = {}
    for spec in shard.episodes:
        by_cell.setdefault(spec.cell_id, []).append(spec)
    for cell_id, specs in by_cell.items():
        cell = cells[cell_id]
        pool = EnvPool(lambda cell=cell: make_env(experiment.env, cell.params))
        probe = pool.get()
        plans = plan_roster(cell.roster, experiment.env, list(probe.possible_agents), models)
        pool.put(probe)
        jobs = (
            EpisodeJob(
                episode_id=spec.episode_id,
                seed=spec.seed,
                envs=pool,
                policies={a: plan.make(probe, spec.seed, a) for a, plan in plans.items()},
                policy_names={a: plan.label for a, plan in plans.items()},
                run_id=run_dir.run_id,
                cell_id=cell_id,
                episode_index=spec.episode_index,
                env_id=experiment.env,
                params=dict(cell.params),
            )
            for spec in specs
        )
        results.extend(play(jobs, lockstep=experiment.lockstep))
    run_dir.write_shard(shard.shard_id, [r.record for r in results], _merged_steps(results))
    return ShardSummary(
        shard.shard_id,
        len(results),
        sum(r.record.steps for r in results),
        sum(r.record.llm_tokens for r in results),
        sum(r.record.errors for r in results),
    )


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
) -> Path:
    """Play an experiment; return its run directory. Re-running resumes where it stopped.

    ``workers=0`` plays in this process (no Ray); ``None`` uses every CPU of a local Ray
    instance, or of the cluster at ``address`` (``"auto"``, ``"host:port"``). ``on_start(total,
    already_done)`` and ``on_progress(shard_summary, done, total)`` report progress.
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    run_dir = open_run(Path(out) if out else Path("runs") / exp.name, exp, fresh=fresh)
    done = run_dir.done_shards()
    shards = [s for s in exp.shards() if s.shard_id not in done]
    total = sum(len(s.episodes) for s in exp.shards())
    finished = total - sum(len(s.episodes) for s in shards)
    started = time.perf_counter()
    run_dir.update_manifest(status="running", workers=workers, address=address)
    if on_start:
        on_start(total, finished)
    try:
        if workers == 0:
            models = ModelPool(exp.models)
            try:
                for shard in shards:
                    summary = play_shard(exp, shard, run_dir, models)
                    finished += summary.episodes
                    if on_progress:
                        on_progress(summary, finished, total)
            finally:
                models.close()
        elif shards:  # nothing left to play: no need to start Ray or load models
            _run_on_ray(exp, shards, run_dir, workers, address, finished, total, on_progress)
    except BaseException:
        run_dir.update_manifest(status="interrupted", wall_s=time.perf_counter() - started)
        raise
    run_dir.update_manifest(status="complete", wall_s=time.perf_counter() - started)
    return run_dir.path


def connect_ray(address: str | None, workers: int | None) -> None:
    """Join the cluster at ``address``, or start a local instance sized to the machine (once)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address:
        ray.init(address=address, namespace=RAY_NAMESPACE, log_to_driver=False)
    else:
        ray.init(  # "local": always a fresh instance, never a stale cluster left on this machine
            address="local",
            num_cpus=max(os.cpu_count() or 1, workers or 0),
            namespace=RAY_NAMESPACE,
            include_dashboard=False,
            log_to_driver=False,
        )


def _model_servers(exp: Experiment) -> dict[str, dict[str, Any]]:
    """One `ModelServer` per node for each weight-loading model spec: spec key -> node -> actor."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from sim.llm.server import ModelServer
    from sim.records import to_json

    pool = ModelPool(exp.models)
    refs = {e.model for cell in exp.cells() for e in cell.roster.values() if e.model is not None}
    specs = {to_json(pool.spec_of(ref)): pool.spec_of(ref) for ref in refs}
    served = {key: spec for key, spec in specs.items() if is_served_per_node(spec)}
    if not served:
        return {}
    server_cls = ray.remote(num_cpus=0)(ModelServer)
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    handles: dict[str, dict[str, Any]] = {}
    for key, spec in served.items():
        handles[key] = {
            node: server_cls.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
            ).remote(spec)
            for node in nodes
        }
    for per_node in handles.values():  # wait for loads (and surface a missing model now)
        ray.get([h.identity.remote() for h in per_node.values()])
    return handles


def _shard_task(
    exp_dict: dict[str, Any], shard: Shard, run_path: str, servers: dict[str, dict[str, Any]]
) -> ShardSummary:
    """Body of the Ray task: rebuild the experiment, route local models to this node's server."""
    import ray

    from sim.llm.server import RemoteModel
    from sim.records import to_json
    from sim.store import RunDir

    exp = load_experiment(exp_dict)
    node = ray.get_runtime_context().get_node_id()
    identities: dict[str, tuple[str, str]] = {}

    def build(spec: Any) -> Any:
        from sim.llm import make_model

        key = to_json(spec)
        if key in servers:
            handle = servers[key][node]
            if key not in identities:
                identities[key] = ray.get(handle.identity.remote())
            return RemoteModel(handle, *identities[key])
        return make_model(spec)

    models = ModelPool(exp.models, build=build)
    try:
        return play_shard(exp, shard, RunDir(Path(run_path)), models)
    finally:
        models.close()


def _run_on_ray(
    exp: Experiment,
    shards: list[Shard],
    run_dir: RunDir,
    workers: int | None,
    address: str | None,
    finished: int,
    total: int,
    on_progress: Callable[[ShardSummary, int, int], None] | None,
) -> None:
    import ray

    connect_ray(address, workers)
    servers = _model_servers(exp)
    task = ray.remote(num_cpus=1, max_retries=3)(_shard_task)
    exp_dict = exp.resolved()
    limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    queue = list(shards)
    in_flight: list[Any] = []
    # On Ctrl-C the in-flight shards are left alone: the job's workers stop when this driver
    # exits, and a shard is written whole or not at all. (Force-cancelling them raced Ray's own
    # task bookkeeping and could abort the driver.)
    while queue or in_flight:
        while queue and len(in_flight) < limit:
            shard = queue.pop(0)
            in_flight.append(task.remote(exp_dict, shard, str(run_dir.path), servers))
        ready, in_flight = ray.wait(in_flight, num_returns=1)
        for ref in ready:
            summary = ray.get(ref)
            finished += summary.episodes
            if on_progress:
                on_progress(summary, finished, total)
