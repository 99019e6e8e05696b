"""LLMPolicy: parse, re-ask with the parser's error, constrained-choice fallback, safe default."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents.llm import CHOICE, DEFAULT, PARSED, REASKED, LLMPolicy, role_of
from sim.llm import EndpointError
from sim.llm.fake import FakeModel
from sim.llm.types import BaseLanguageModel
from tests.envs_fixtures.ultimatum import ACCEPT, PROPOSER, REJECT, RESPONDER
from tests.envs_fixtures.ultimatum_protocol import UltimatumProtocol

PROTOCOL = UltimatumProtocol()
PROPOSER_OBS = {
    "pie": np.array([10.0], dtype=np.float32),
    "offer": 0,
    "last_message": "",
}
RESPONDER_OBS = {
    "pie": np.array([10.0], dtype=np.float32),
    "offer": 3,
    "last_message": "take it",
    "action_mask": np.array([1, 1], dtype=np.int8),
}
PROMPTS = {"proposer": "You want to keep most of the pie.", "responder": "You are proud."}


def policy(model, **kwargs) -> LLMPolicy:
    return LLMPolicy(model, PROMPTS, PROTOCOL, **kwargs)


class BrokenModel(BaseLanguageModel):
    """Every call fails the way an unreachable endpoint does."""

    backend, model_id = "broken", "broken"

    def _generate(self, requests):
        raise EndpointError("openai endpoint http://127.0.0.1:9/v1/chat/completions: down")

    _choose = _generate


def test_first_reply_parses():
    model = FakeModel(
        responses={"How many tenths": "OFFER 3 MESSAGE: fair?", "ACCEPT or": "accept"}
    )
    p = policy(model)
    actions = p.act_batch([(PROPOSER_OBS, PROPOSER), (RESPONDER_OBS, RESPONDER)])
    assert actions == [{"offer": 3, "message": "fair?"}, ACCEPT]
    assert len(model.calls) == 1  # both decisions in one batch
    records = p.pop_records()
    assert [r.status for r in records] == [PARSED, PARSED]
    assert records[0].fallback is None and records[0].reasks == 0
    assert records[0].messages[0]["content"].startswith("You want to keep most of the pie.")
    assert "OFFER <n>" in records[0].messages[0]["content"]  # protocol instructions included
    assert "How many tenths" in records[0].messages[1]["content"]
    assert p.pop_records() == []


def test_reask_shows_the_parser_error_and_then_parses():
    model = FakeModel(responses=["I think I will accept this.", "ACCEPT"])
    p = policy(model)
    assert p.act(RESPONDER_OBS, RESPONDER) == ACCEPT
    (record,) = p.pop_records()
    assert record.status == REASKED and record.reasks == 1
    assert record.replies == ["I think I will accept this.", "ACCEPT"]
    second_request = model.calls[1][1][0]
    assert second_request.messages[-2] == {
        "role": "assistant",
        "content": "I think I will accept this.",
    }
    assert "expected 'ACCEPT' or 'REJECT'" in second_request.messages[-1]["content"]
    assert record.errors == ["expected 'ACCEPT' or 'REJECT', got 'I think I will accept this.'"]


def test_reasks_batch_only_the_failures():
    model = FakeModel(responses=["OFFER 2", "hmm", "REJECT"])
    p = policy(model)
    actions = p.act_batch([(PROPOSER_OBS, PROPOSER), (RESPONDER_OBS, RESPONDER)])
    assert actions == [{"offer": 2, "message": ""}, REJECT]
    assert [len(requests) for _, requests in model.calls] == [2, 1]


def test_falls_back_to_constrained_choice_among_valid_actions():
    model = FakeModel(responses=["no idea"], choices=[1])
    p = policy(model, max_reasks=2)
    assert p.act(RESPONDER_OBS, RESPONDER) == ACCEPT  # valid actions: REJECT, ACCEPT
    (record,) = p.pop_records()
    assert record.status == CHOICE and record.fallback == CHOICE
    assert record.reasks == 2 and len(record.replies) == 3 and len(record.errors) == 3
    assert record.choice_options == ["REJECT", "ACCEPT"]
    kinds = [kind for kind, _ in model.calls]
    assert kinds == ["generate", "generate", "generate", "choose"]
    choose_request = model.calls[-1][1][0]
    assert choose_request.messages == tuple(record.messages)  # the clean prompt, not the re-asks


def test_choice_respects_the_action_mask():
    only_reject = {**RESPONDER_OBS, "action_mask": np.array([1, 0], dtype=np.int8)}
    model = FakeModel(responses=["???"], choices=[0])
    p = policy(model, max_reasks=0)
    assert p.act(only_reject, RESPONDER) == REJECT
    assert p.pop_records()[0].choice_options == ["REJECT"]


def test_safe_default_when_the_model_fails():
    p = policy(BrokenModel())
    actions = p.act_batch([(PROPOSER_OBS, PROPOSER), (RESPONDER_OBS, RESPONDER)])
    assert actions == [{"offer": 5, "message": ""}, REJECT]  # the protocol's documented defaults
    records = p.pop_records()
    assert {r.status for r in records} == {DEFAULT}
    for r in records:  # one failed generate call, one failed choose call, each told in one line
        assert r.requests == 2 and r.failed_requests == 2
        assert all(f.startswith("model error: openai endpoint") for f in r.failures)
        assert r.replies == [] and r.errors == []


def test_a_failed_request_falls_back_alone_and_is_not_reasked():
    """Per-request failures (the backend retried already) touch only their own decision."""
    from dataclasses import replace

    class OneFails(FakeModel):
        def _generate(self, requests):
            out = super()._generate(requests)
            failed = replace(
                out[0].usage, requests=3, failed_requests=3, failures=("HTTP 500",) * 3
            )
            first = replace(out[0], text="", error="HTTP 500 after 3 attempts", usage=failed)
            return [first, *out[1:]]

    model = OneFails(responses={"How many tenths": "OFFER 3", "ACCEPT or": "accept"}, choices=[1])
    p = policy(model)
    actions = p.act_batch([(PROPOSER_OBS, PROPOSER), (RESPONDER_OBS, RESPONDER)])
    proposer, responder = p.pop_records()
    assert actions[1] == ACCEPT and responder.status == PARSED and responder.failed_requests == 0
    assert proposer.status == CHOICE and proposer.replies == []  # no re-ask of a failed request
    assert proposer.failed_requests == 3 and proposer.requests == 4  # 3 attempts + the choose
    assert [kind for kind, _ in model.calls] == ["generate", "choose"]


def test_structured_models_get_the_schema_and_a_json_prompt():
    class Structured(FakeModel):
        structured = "json_schema"

    schema = {"type": "object", "properties": {"offer": {"type": "integer"}}}

    class WithSchema(type(PROTOCOL)):
        def reply_schema(self, observation, agent):
            return schema

        def parse(self, text, observation, agent):
            import json

            return {"offer": json.loads(text)["offer"], "message": ""}

    model = Structured(responses=['{"offer": 4}'])
    p = LLMPolicy(model, PROMPTS, WithSchema())
    assert p.act(PROPOSER_OBS, PROPOSER) == {"offer": 4, "message": ""}
    request = model.calls[0][1][0]
    assert request.schema == schema and "JSON Schema" in request.messages[-1]["content"]
    plain = LLMPolicy(FakeModel(responses=["OFFER 4"]), PROMPTS, WithSchema())
    assert plain.schema_for(PROPOSER_OBS, PROPOSER) is None  # the model enforces no schema
    off = LLMPolicy(model, PROMPTS, WithSchema(), structured=False)
    assert off.schema_for(PROPOSER_OBS, PROPOSER) is None


def test_safe_default_when_choice_has_no_answer_or_is_disabled():
    class NoAnswer(FakeModel):
        def _choose(self, requests):
            return [
                c.__class__(0, c.option, c.usage, "fallback") for c in super()._choose(requests)
            ]

    p = policy(NoAnswer(responses=["garbage"]), max_reasks=0)
    assert p.act(RESPONDER_OBS, RESPONDER) == REJECT
    assert p.pop_records()[0].status == DEFAULT
    p = policy(
        FakeModel(responses=["garbage"], choices=[1]), max_reasks=0, use_choice_fallback=False
    )
    assert p.act(RESPONDER_OBS, RESPONDER) == REJECT
    assert p.pop_records()[0].status == DEFAULT


def test_sampling_seeds_do_not_depend_on_batch_company():
    model = FakeModel(responses={"How many": "OFFER 1", "ACCEPT or": "REJECT"})
    p = policy(model, temperature=0.8, seed=3)
    p.act_batch([(RESPONDER_OBS, RESPONDER)])
    p.act_batch([(PROPOSER_OBS, PROPOSER), (RESPONDER_OBS, RESPONDER)])
    alone, together = model.calls[0][1][0], model.calls[1][1][1]
    assert alone.seed == together.seed and alone.temperature == 0.8


def test_usage_is_recorded_and_prompts_resolve_by_role():
    p = policy(FakeModel(responses=["ACCEPT"]))
    p.act(RESPONDER_OBS, RESPONDER)
    record = p.pop_records()[0]
    assert record.prompt_tokens > 0 and record.completion_tokens == 1
    assert role_of("seller_12") == "seller" and role_of("judge") == "judge"
    with pytest.raises(KeyError, match="no prompt for agent 'buyer_0'"):
        policy(FakeModel()).prompt_for(RESPONDER_OBS, "buyer_0")
    with pytest.raises(ValueError, match="max_reasks"):
        policy(FakeModel(), max_reasks=-1)


def test_policies_sharing_a_model_are_served_by_one_batch():
    from agents.llm import act_together

    model = FakeModel(responses={"How many tenths": "OFFER 2", "ACCEPT or": "what?"}, choices=[1])
    proposer, responder = policy(model, max_reasks=1), policy(model, max_reasks=1, seed=9)
    other_model = FakeModel(responses=["REJECT"])
    third = policy(other_model)
    results = act_together(
        [
            (proposer, [(PROPOSER_OBS, PROPOSER)]),
            (responder, [(RESPONDER_OBS, RESPONDER), (RESPONDER_OBS, RESPONDER)]),
            (third, [(RESPONDER_OBS, RESPONDER)]),
        ],
        share_identical=False,
    )
    assert results == [[{"offer": 2, "message": ""}], [ACCEPT, ACCEPT], [REJECT]]
    # shared model: one generate of 3, one re-ask of the 2 failures, one choose of 2
    assert [(kind, len(reqs)) for kind, reqs in model.calls] == [
        ("generate", 3),
        ("generate", 2),
        ("choose", 2),
    ]
    assert [len(reqs) for _, reqs in other_model.calls] == [1]
    assert [r.status for r in responder.pop_records()] == [CHOICE, CHOICE]


def test_identical_requests_in_one_batch_are_sent_once():
    from agents.llm import act_together

    def decide(temperature: float) -> tuple[list[int], list[Any]]:
        model = FakeModel(responses=["ACCEPT"])
        players = [policy(model, seed=seed, temperature=temperature) for seed in (1, 2)]
        act_together([(p, [(RESPONDER_OBS, RESPONDER)] * 2) for p in players])
        records = [r for p in players for r in p.pop_records()]
        return [len(reqs) for _, reqs in model.calls], records

    # greedy: the seed cannot matter, so four identical decisions cost one request
    sizes, records = decide(0.0)
    assert sizes == [1]
    assert [r.action for r in records] == [ACCEPT] * 4
    assert [r.requests for r in records] == [1, 0, 0, 0]
    assert [r.prompt_tokens > 0 for r in records] == [True, False, False, False]
    # sampled: each policy's seed gives its own draw; only a policy's own repeat is shared
    sizes, records = decide(0.7)
    assert sizes == [2]
    assert [r.requests for r in records] == [1, 0, 1, 0]


def test_a_reply_with_an_explanation_after_the_command_is_the_models_own():
    p = policy(FakeModel(responses=["ACCEPT\nIt is a fair offer."]))
    assert p.act(RESPONDER_OBS, RESPONDER) == ACCEPT
    assert p.pop_records()[0].status == PARSED


def test_greedy_re_asks_stop_once_the_model_repeats_itself():
    from agents.llm import REPEATED_REPLY

    greedy_model = FakeModel(responses=["maybe"], choices=[0])
    greedy = policy(greedy_model, max_reasks=3, temperature=0.0)
    greedy.act(RESPONDER_OBS, RESPONDER)
    record = greedy.pop_records()[0]
    # the first re-ask repeats the reply word for word: no third or fourth ask
    assert [kind for kind, _ in greedy_model.calls] == ["generate", "generate", "choose"]
    assert record.replies == ["maybe", "maybe"] and record.errors[-1] == REPEATED_REPLY
    assert record.status == CHOICE
    sampled_model = FakeModel(responses=["maybe"], choices=[0])
    policy(sampled_model, max_reasks=3, temperature=0.7).act(RESPONDER_OBS, RESPONDER)
    assert [kind for kind, _ in sampled_model.calls].count("generate") == 4
