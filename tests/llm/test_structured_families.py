"""The bundled model plays for real: with structured replies, every LLM decision of every env
family parses from its first reply (no re-ask, no constrained choice, no default).

Decision states come from the engine (each family's bench cell, LLM roles answered by the
structured fake, so the states are the ones an LLM player meets); the bundled SmolLM2 then answers
them under their schemas, one batch per family. One state per role, its first decision (12 in all;
in bargaining and negotiation one role opens with an offer and the other answers one, so both
kinds of reply are asked): prompt processing is most of the cost, so more states of the same kind
would cost much and find little. One batch per family, not one across families: the local model
pads a batch's prompts to its longest, which across families costs more than it saves.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agents.llm import LLMPolicy
from agents.registry import policy_info, register_policy
from envs.core.protocol import protocol_of
from sim.bench.families import FAMILY_CASES, experiment_for
from sim.engine.batch import make_env, run
from sim.llm.fake import FakeModel

pytestmark = pytest.mark.real_llm

SEEN: dict[str, list[tuple[Any, str]]] = {}


class Recorder(LLMPolicy):
    """A structured fake player that remembers every decision state it is asked about."""

    def decide(self, items):
        for observation, agent in items:
            state = (copy.deepcopy(observation), agent)  # envs may reuse observation arrays
            SEEN.setdefault(agent.rpartition("_")[0], []).append(state)
        return (yield from super().decide(items))


def _recorder(env: Any, *, seed: int) -> LLMPolicy:
    fake = FakeModel(seed=seed, structured="json_schema")
    return Recorder(fake, "", protocol_of(env), seed=seed)


register_policy("test/recorder", _recorder, summary="records LLM decision states (tests)")


def states(case, tmp_path) -> list[tuple[Any, str]]:
    """Each LLM role's first decision state in one engine run of the case."""
    SEEN.clear()
    experiment = experiment_for(case, "fake", {})
    for role, entry in experiment["roster"].items():
        if isinstance(entry, dict) and entry.get("policy") == "llm":
            experiment["roster"][role] = {"policy": "test/recorder"}
    experiment["models"] = {}
    run(experiment, workers=0, out=tmp_path / case.family)
    return [seen[0] for seen in SEEN.values()]


@pytest.mark.parametrize("case", FAMILY_CASES, ids=[c.family for c in FAMILY_CASES])
def test_every_structured_reply_of_the_bundled_model_parses(case, local_model, tmp_path):
    items = states(case, tmp_path)
    assert items, f"{case.family}: no LLM decision states"
    env = make_env(case.env, dict(case.params))
    player = policy_info("llm", case.env).factory(
        env, seed=0, model=local_model, max_reasks=0, use_choice_fallback=False
    )
    player.act_batch(items)
    records = player.pop_records()
    assert len(records) == len(items)
    for record in records:
        assert record.structured == "grammar", record.agent
        assert record.status == "parsed", (record.agent, record.replies, record.errors)
