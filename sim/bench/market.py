"""`mercato bench market`: how fast one marketplace episode runs with scripted agents.

Each scale runs in a fresh single-threaded subprocess, so its time is one core's and its peak
resident memory is its own: generating the market (and indexing it for search) is timed apart
from playing the episode. The reference platform needed 111.5 s (Postgres) and 624 s (SQLite)
for the 100/300 scripted workload on 2 cores; the ratio is printed against the Postgres figure.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from sim.bench.presets import presets

MARKET = presets()["market"]
REFERENCE_100_300_S: float = MARKET["reference_s"]


@dataclass(frozen=True)
class MarketTiming:
    """One scale's measurements."""

    customers: int
    businesses: int
    build_s: float
    episode_s: float
    ticks: int
    decisions: int
    welfare: float
    optimal_welfare: float
    peak_rss_gib: float


def play_scripted(
    n_customers: int,
    *,
    domain: str = "restaurants",
    seed: int = 0,
    algorithm: str = "lexical",
    text: bool = False,
) -> MarketTiming:
    """Build a market, then play one episode with the preset's scripted players through the
    engine's rollout (nothing recorded)."""
    import agents.scripted  # registers the players
    from agents.registry import make_policy
    from envs.core.names import role_of
    from envs.core.registry import make_env
    from sim.engine.rollout import EnvPool, EpisodeJob, play

    params = {
        MARKET["customers_param"]: n_customers,
        "domain": domain,
        "market_seed": seed,
        "search_algorithm": algorithm,
        "text_observations": text,
    }
    started = time.perf_counter()
    pool = EnvPool(lambda: make_env(MARKET["env"], params))
    env = pool.probe()
    built = time.perf_counter()
    agents = list(env.possible_agents)
    roster = {agent: MARKET["roster"][role_of(agent)] for agent in agents}
    policies = {a: make_policy(roster[a], env, seed=i) for i, a in enumerate(agents)}
    job = EpisodeJob("bench", seed, pool, policies, roster, env_id=MARKET["env"])
    (result,) = play([job], record_steps=False)
    finished = time.perf_counter()
    metrics = result.record.metrics
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return MarketTiming(
        n_customers, len(agents) - n_customers, built - started, finished - built,
        int(metrics["ticks"]), int(result.record.steps), float(metrics["welfare"]),
        float(metrics["optimal_welfare"]), peak,
    )  # fmt: skip


def measure(n_customers: int, **options: Any) -> MarketTiming:
    """`play_scripted` in a fresh one-thread subprocess (clean timing and peak memory)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    code = (
        "import json, sys; from dataclasses import asdict; from sim.bench.market import "
        "play_scripted; timing = play_scripted(int(sys.argv[1]), **json.loads(sys.argv[2])); "
        "print(json.dumps(asdict(timing)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(n_customers), json.dumps(options)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"market bench at {n_customers} customers failed: {last}")
    return MarketTiming(**json.loads(done.stdout.strip().splitlines()[-1]))
