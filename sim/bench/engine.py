"""`mercato bench engine`: how fast the engine plays, as rates and ratios measured in one run.

1. Environment loop: scripted bargaining in one process, no recording (agent-steps/s).
2. Full rollouts: the same through `sim.run` in-process, every step recorded and written to
   Parquet (agent-steps/s).
3. Ray scaling: episodes/s of one experiment with 1 and with N workers (and the ratio).
4. LLM players: completion tokens/s of lockstep-batched rollouts (32 envs) in every family (the
   structured bench's cases: varied prompts, LLMs in their roles), and for bargaining against one
   call at a time and on Ray, with the local model (optional: minutes on CPU).
5. Peak resident memory of the whole process tree (driver, Ray, workers, model servers).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.bench.presets import presets

ENGINE = presets()["engine"]
ENV_ID: str = ENGINE["env"]


@dataclass(frozen=True)
class Rate:
    """``amount`` units of work in ``seconds``."""

    label: str
    amount: float
    unit: str
    seconds: float

    @property
    def per_second(self) -> float:
        return self.amount / self.seconds if self.seconds > 0 else 0.0


class PeakMemory:
    """Samples the memory of this process and all its descendants; keeps the peak.

    Each process counts its proportional set size (PSS: shared pages split among the processes
    sharing them), so libraries mapped by every Ray worker are not counted once per worker.
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_full_info().pss
                except psutil.Error:
                    continue
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()


def scripted_experiment(episodes: int, shard_size: int, **changes: Any) -> dict[str, Any]:
    """The engine preset's scripted players on every side (`sim/bench/presets.yaml`)."""
    data = {
        "name": "bench-scripted",
        "env": ENV_ID,
        "params": dict(ENGINE["params"]),
        "roster": dict(ENGINE["roster"]),
        "episodes": episodes,
        "shard_size": shard_size,
    }
    data.update(changes)
    return data


def env_loop(episodes: int) -> Rate:
    """Environment plus scripted players through the engine's fast path, nothing recorded."""
    from sim.engine.batch import make_env
    from sim.engine.experiment import load_experiment
    from sim.engine.rollout import EnvPool, EpisodeJob, play
    from sim.engine.roster import ModelPool, plan_roster

    experiment = load_experiment(scripted_experiment(episodes, episodes))
    cell = experiment.cells()[0]
    pool = EnvPool(lambda: make_env(ENV_ID, cell.params))
    probe = pool.get()
    pool.put(probe)
    plans = plan_roster(cell.roster, ENV_ID, list(probe.possible_agents), ModelPool())
    names = {agent: plan.label for agent, plan in plans.items()}

    def jobs() -> Iterator[EpisodeJob]:
        for spec in experiment.episode_specs():
            policies = {a: plan.make(probe, spec.seed, a) for a, plan in plans.items()}
            yield EpisodeJob(spec.episode_id, spec.seed, pool, policies, names)

    started = time.perf_counter()
    steps = sum(result.record.steps for result in play(jobs(), record_steps=False))
    return Rate(
        "env loop (1 process, no recording)", steps, "agent-steps", time.perf_counter() - started
    )


def recorded_run(episodes: int, workdir: Path) -> Rate:
    """`sim.run` in-process: plan, play, record every step, write Parquet."""
    import sim
    from sim.store.runs import load_episodes

    started = time.perf_counter()
    out = sim.run(scripted_experiment(episodes, 2_000), workers=0, out=workdir / "recorded")
    seconds = time.perf_counter() - started
    steps = float(load_episodes(out)["steps"].sum())
    return Rate("full rollouts (recorded + written)", steps, "agent-steps", seconds)


def ray_run(episodes: int, workers: int, workdir: Path) -> Rate:
    """Episodes/s of a scripted experiment on local Ray with ``workers`` workers (Ray's own
    start-up is excluded: it is paid once per session, not per run)."""
    import sim
    from sim.engine.cluster import connect_ray

    connect_ray(None, workers)
    started = time.perf_counter()
    sim.run(scripted_experiment(episodes, 500), workers=workers, out=workdir / f"ray-{workers}")
    seconds = time.perf_counter() - started
    return Rate(f"Ray, {workers} worker(s)", episodes, "episodes", seconds)


def llm_experiment(case: Any, episodes: int, lockstep: int, model: str) -> dict[str, Any]:
    """A family's bench case (`sim.bench.families.FAMILY_CASES`) with its LLM roles on ``model``:
    varied prompts from that family, one reply per decision."""
    from sim.bench.families import experiment_for, text_params

    data = experiment_for(case, model, text_params(case))
    name = f"bench-llm-{case.family}-{lockstep}"
    return data | {"name": name, "episodes": episodes, "shard_size": episodes, "lockstep": lockstep}


def llm_rollouts(
    case: Any, episodes: int, lockstep: int, model: str, workdir: Path, workers: int = 0
) -> Rate:
    """Completion tokens/s of one family's LLM rollouts at a lockstep width."""
    import sim
    from sim.store.runs import load_steps

    started = time.perf_counter()
    out = sim.run(
        llm_experiment(case, episodes, lockstep, model),
        workers=workers,
        out=workdir / f"llm-{case.family}-{lockstep}-{workers}",
    )
    seconds = time.perf_counter() - started
    tokens = float(load_steps(out)["llm_completion_tokens"].fillna(0).sum())
    label = f"LLM {case.family}, lockstep {lockstep}" + (
        f", {workers} Ray workers" if workers else ""
    )
    return Rate(label, tokens, "tokens", seconds)


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="mercato-bench-") as folder:
        yield Path(folder)
