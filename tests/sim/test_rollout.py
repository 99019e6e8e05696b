"""Rollouts: the scripted fast path, lockstep batching of LLM players, and identical results."""

from __future__ import annotations

import orjson

from agents.base import RandomPolicy
from agents.llm import LLMPolicy
from envs.core.seeding import derive_seed
from sim.engine.records import STEP_COLUMNS
from sim.engine.rollout import EnvPool, EpisodeJob, play
from sim.llm.fake import FakeModel
from tests.envs_fixtures.ultimatum import PROPOSER, RESPONDER, env
from tests.envs_fixtures.ultimatum_protocol import UltimatumProtocol


def jobs(n: int, model: FakeModel | None, pool: EnvPool | None = None) -> list[EpisodeJob]:
    pool = pool or EnvPool(env)
    spaces = env().action_space
    out = []
    for i in range(n):
        seed = derive_seed(7, i)
        proposer = RandomPolicy(spaces, seed=seed)
        if model is None:
            responder = RandomPolicy(spaces, seed=seed + 1)
        else:
            responder = LLMPolicy(model, "respond", UltimatumProtocol(), seed=seed)
        out.append(
            EpisodeJob(
                episode_id=f"e{i}",
                seed=seed,
                envs=pool,
                policies={PROPOSER: proposer, RESPONDER: responder},
                policy_names={PROPOSER: "random", RESPONDER: "llm" if model else "random"},
                cell_id="c000",
                episode_index=i,
            )
        )
    return out


def rows_of(results):
    rows = sorted((r for result in results for r in result.steps.rows), key=lambda r: (r[0], r[1]))
    return rows


def test_scripted_episodes_record_every_turn_and_returns():
    results = list(play(jobs(5, None)))
    assert [r.record.episode_id for r in results] == [f"e{i}" for i in range(5)]
    for result in results:
        rows = result.steps.rows
        assert all(len(row) == len(STEP_COLUMNS) for row in rows)
        agents = [row[2] for row in rows]
        assert agents[:2] == [PROPOSER, RESPONDER]  # two decisions, then two final rows
        assert [row[6] is None for row in rows] == [False, False, True, True]
        rewards = {a: sum(row[8] for row in rows if row[2] == a) for a in (PROPOSER, RESPONDER)}
        assert rewards == result.record.returns
        assert result.record.steps == 2
        assert orjson.loads(rows[0][4])["pie"]  # structured observation stored as JSON


def test_llm_decisions_of_all_instances_share_model_calls():
    model = FakeModel(responses=["ACCEPT"])
    results = list(play(jobs(8, model), lockstep=8))
    assert len(results) == 8
    generate_calls = [reqs for kind, reqs in model.calls if kind == "generate"]
    assert [len(reqs) for reqs in generate_calls] == [8]  # 8 responders, one batch
    llm_rows = [row for r in results for row in r.steps.rows if row[13] is not None]
    assert len(llm_rows) == 8
    assert all(row[15] == "parsed" and row[5].startswith("The pie is worth") for row in llm_rows)
    assert all(r.record.llm_calls == 1 and r.record.llm_tokens > 0 for r in results)


def test_lockstep_width_does_not_change_what_happens():
    def run(width):
        model = FakeModel(responses={"ACCEPT or": "maybe", "*": "x"}, choices=lambda r: 1)
        return rows_of(play(jobs(6, model), lockstep=width))

    assert run(1) == run(4) == run(32)


def test_envs_are_reused_across_episodes():
    built = []

    def factory():
        built.append(1)
        return env()

    list(play(jobs(20, None, EnvPool(factory))))
    assert len(built) == 1
