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

REFERENCE_100_300_S = 111.5
CUSTOMER = "marketplace/careful"
BUSINESS = "marketplace/honest"


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
    customer: str = CUSTOMER,
    business: str = BUSINESS,
    text: bool = False,
) -> MarketTiming:
    """Build a market, then play one episode with scripted players (no recording)."""
    import agents.scripted  # noqa: F401  (registers the players)
    from agents.registry import make_policy
    from envs.marketplace.env import MarketplaceEnv

    started = time.perf_counter()
    env = MarketplaceEnv(
        n_customers=n_customers,
        domain=domain,
        market_seed=seed,
        search_algorithm=algorithm,
        text_observations=text,
    )
    built = time.perf_counter()
    observations, _ = env.reset(seed=seed)
    policies = {
        agent: make_policy(customer if agent.startswith("customer") else business, env, seed=i)
        for i, agent in enumerate(env.possible_agents)
    }
    decisions = 0
    infos: dict[str, Any] = {}
    while env.agents:
        deciding = env.deciding_agents()
        decisions += len(deciding)
        actions = {a: policies[a].act(observations[a], a) for a in deciding}
        observations, _, _, _, infos = env.step(actions)
    finished = time.perf_counter()
    metrics = next(iter(infos.values()))["metrics"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return MarketTiming(
        n_customers, len(env.possible_agents) - n_customers, built - started, finished - built,
        int(metrics["ticks"]), decisions, float(metrics["welfare"]),
        float(metrics["optimal_welfare"]), peak,
    )  # fmt: skip


def measure(n_customers: int, **options: Any) -> MarketTiming:
    """`play_scripted` in a fresh one-thread subprocess (clean timing and peak memory)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    code = (
        "import json, sys; from dataclasses import asdict; from sim.bench_market import "
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
