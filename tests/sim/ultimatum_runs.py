"""Shared by the experiment, store and report tests: the ultimatum fixture env under a test id,
a test policy with options, experiment dicts, and hand-built episode and step records."""

from __future__ import annotations

from typing import Any

from agents.base import Policy, RandomPolicy
from agents.registry import register_policy
from envs.core.registry import register_env
from sim.engine.experiment import EpisodeSpec
from sim.engine.records import EpisodeRecord, StepColumns

ULTIMATUM_ID = "mercato/TestUltimatum-v0"
AGENTS = ("proposer_0", "responder_0")


def fixed_offer(env: Any, *, seed: int, offer: int, greeting: str = "") -> Policy:
    """A test policy with a required and an optional option."""
    return RandomPolicy(env.action_space, seed=seed)


def register_fixtures() -> None:
    """Register the ultimatum env and `ultimatum/fixed-offer` (idempotent)."""
    register_env(
        "TestUltimatum-v0",
        kind="aec",
        entry_point="tests.envs_fixtures.ultimatum:env",
        family="test",
        summary="A one-shot ultimatum game (test fixture).",
    )
    register_policy("ultimatum/fixed-offer", fixed_offer, envs=(ULTIMATUM_ID,), summary="test")


def experiment_data(**changes: Any) -> dict[str, Any]:
    """A valid experiment over the ultimatum env; ``changes`` replace top-level fields."""
    data: dict[str, Any] = {
        "name": "ultimatum-test",
        "env": ULTIMATUM_ID,
        "params": {"min_pie": 10},
        "grid": {"max_pie": [20, 50]},
        "models": {"smol": "fake"},
        "roster": {"proposer": "random", "responder_0": {"policy": "llm", "model": "smol"}},
        "episodes": 3,
        "shard_size": 2,
    }
    data.update(changes)
    return data


def episode_record(spec: EpisodeSpec, run_id: str, **metrics: float | None) -> EpisodeRecord:
    """A finished episode of ``spec`` with the given metrics."""
    return EpisodeRecord(
        run_id=run_id,
        cell_id=spec.cell_id,
        episode_id=spec.episode_id,
        episode_index=spec.episode_index,
        env_id=ULTIMATUM_ID,
        params=dict(spec.params),
        seed=spec.seed,
        roster={"proposer_0": "random", "responder_0": "llm:smol"},
        metrics=metrics,  # type: ignore[arg-type]
        returns={"proposer_0": 6.0, "responder_0": 4.0},
        steps=2,
        llm_calls=1,
        llm_tokens=12,
        wall_s=0.01,
    )


def step_rows(spec: EpisodeSpec) -> StepColumns:
    """Two decisions (one by the LLM player) and two final rows, as a rollout records them."""
    steps = StepColumns()
    steps.add(
        episode_id=spec.episode_id, step=0, agent="proposer_0", role="proposer",
        observation='{"pie":[20.0]}', action='{"offer":4,"message":""}', message="",
        reward=0.0, terminated=False, truncated=False, info="{}", policy="random",
    )  # fmt: skip
    steps.add(
        episode_id=spec.episode_id, step=1, agent="responder_0", role="responder",
        observation='{"pie":[20.0]}', observation_text="Offer 4/10. Accept?", action="1",
        reward=0.0, terminated=False, truncated=False, info="{}", policy="llm:smol",
        prompt='[{"role":"user","content":"Offer 4/10. Accept?"}]', reply='["yes", "sure"]',
        parse_status="choice", retries=2, fallback="choice", llm_prompt_tokens=9,
        llm_completion_tokens=3,
    )  # fmt: skip
    for step, agent in enumerate(AGENTS, start=2):
        steps.add(
            episode_id=spec.episode_id, step=step, agent=agent, role=agent[:-2],
            reward=6.0 if agent == "proposer_0" else 4.0, terminated=True, truncated=False,
            info={"pie": 20.0, "offer": 4, "accepted": True}, policy="random",
        )  # fmt: skip
    return steps
