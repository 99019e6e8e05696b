"""The marketplace through the engine: presets validate, LLM customers batch per step, and the
episode table carries the market metrics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import agents.scripted  # noqa: F401
from agents.llm import LLMPolicy
from agents.prompts import role_prompts
from agents.registry import make_policy
from envs.marketplace.env import MarketplaceEnv
from sim.engine.batch import run
from sim.engine.experiment import load_experiment
from sim.engine.rollout import EnvPool, EpisodeJob, play
from sim.llm.fake import FakeModel
from sim.store.runs import load
from tests.envs.marketplace.playing import play as play_scripted

PRESETS = sorted(Path("experiments/marketplace").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_presets_validate(preset):
    experiment = load_experiment(preset)
    assert experiment.env == "mercato/Marketplace-v0"
    assert experiment.cells()


def shopper(request) -> str:
    """A scripted 'LLM' customer: search, ask everyone found, pay the first open proposal."""
    prompt = request.messages[-1]["content"]
    if "Search results: none yet" in prompt:
        return "SEARCH " + re.search(r"Needed items: (.*?)\.", prompt).group(1)
    paid = "Paid: #" in prompt
    if paid:
        return "END"
    proposal = re.search(r"proposal #(\d+) from", prompt)
    if proposal:
        return f"PAY #{proposal.group(1)}"
    if "Last action: message" in prompt:
        return "WAIT"
    return "ASK all: please send a proposal"


def test_llm_customers_decide_together_and_buy():
    model = FakeModel(responses=shopper)
    pool = EnvPool(lambda: MarketplaceEnv(n_customers=4, market_seed=0, search_algorithm="perfect"))
    env = pool.probe()
    jobs = []
    for episode in range(2):
        policies = {
            agent: (
                LLMPolicy(model, role_prompts(env), env.protocol, seed=episode)
                if agent.startswith("customer")
                else make_policy("marketplace/honest", env)
            )
            for agent in env.possible_agents
        }
        names = {agent: agent.rpartition("_")[0] for agent in env.possible_agents}
        market = "mercato/Marketplace-v0"
        jobs.append(EpisodeJob(f"e{episode}", episode, pool, policies, names, env_id=market))
    results = list(play(jobs, lockstep=2))
    assert len(results) == 2
    for result in results:
        metrics = result.record.metrics
        assert metrics["purchases"] == 4 and metrics["satisfied_rate"] == 1.0
        assert metrics["llm_calls_per_purchase"] > 0
        rows = result.steps.rows
        llm = [row for row in rows if row[13] is not None]
        assert {row[2].rpartition("_")[0] for row in llm} == {"customer"}
        assert all(row[15] == "parsed" for row in llm)
        # only decisions and final rows are recorded, never a turn an agent could only wait
        assert sum(row[6] is not None for row in rows) == result.record.steps
        returns = sum(v for a, v in result.record.returns.items() if a.startswith("customer"))
        assert returns == pytest.approx(metrics["welfare"])
    # one model call per tick serves every ready customer of both episodes
    sizes = [len(requests) for kind, requests in model.calls if kind == "generate"]
    assert sizes[0] == 8 and len(sizes) < 8


def test_returns_in_the_episode_table_add_up_to_welfare(tmp_path):
    experiment = {
        "env": "mercato/Marketplace-v0",
        "params": {"n_customers": 6, "customer_latency": {"low": 1, "high": 3}},
        "roster": {"customer": "marketplace/price-only", "business": "marketplace/discounter"},
        "episodes": 3,
    }
    episodes, _ = load(run(experiment, workers=0, out=tmp_path / "run"))
    customers = episodes.filter(like="return_customer_").sum(axis=1)
    assert customers.to_numpy() == pytest.approx(episodes["metric_welfare"].to_numpy())


def test_semantic_search_finds_the_sellers_of_an_order():
    env = MarketplaceEnv(n_customers=3, market_seed=4, search_algorithm="semantic")
    metrics, _ = play_scripted(env)
    assert metrics["purchases"] == 3 and metrics["welfare_ratio"] > 0.9
