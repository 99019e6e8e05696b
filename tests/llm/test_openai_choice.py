"""`choose` on the OpenAI-compatible backend: shuffled ids, constrained answers, logprob scores."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from sim.llm.errors import EndpointError
from sim.llm.openai_choice import ChoicePlan
from sim.llm.types import ChooseRequest

OPTIONS = ["accept", "reject", "counter at 40", "wait"]


def _requests(n: int, options=OPTIONS, text: str = "Your move?") -> list[dict]:
    return [{"messages": text, "options": options, "seed": seed} for seed in range(n)]


def test_an_answer_that_echoes_the_option_list_is_never_an_answer(server, connect):
    server.choose = "echo"
    model = connect(structured="off")
    (choice,) = model.choose(_requests(1))
    assert choice.method == "fallback" and choice.error is None
    assert "1. " in choice.raw and "I choose 1" in choice.raw
    assert len(server.requests) == 2  # asked, re-asked once, then the seeded draw
    reask = server.requests[1]["body"]["messages"]
    assert reask[-2] == {"role": "assistant", "content": choice.raw}
    assert "not one of the option numbers" in reask[-1]["content"]


def test_an_indifferent_model_picks_every_original_position_about_equally(server, connect):
    server.choose = "first"  # always the first listed id, whatever it lists
    model = connect()
    out = model.choose(_requests(200))

    assert all(c.method == "answer" and c.raw.startswith('{"choice"') for c in out)
    counts = Counter(c.index for c in out)
    assert set(counts) == set(range(len(OPTIONS)))
    assert all(30 <= counts[i] <= 70 for i in range(len(OPTIONS))), counts
    for seed, choice in enumerate(out):
        plan = ChoicePlan.build(ChooseRequest("Your move?", tuple(OPTIONS), seed), "json_schema")
        assert choice.index == plan.order[0] and choice.option == OPTIONS[choice.index]

    body = server.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["choice"]["enum"] == ["1", "2", "3", "4"]
    assert body["logprobs"] is True and body["top_logprobs"] == 20


def test_scores_are_recorded_per_option_in_the_original_order(server, connect):
    server.choose = "probs"
    server.option_probs = {"accept": 0.1, "reject": 0.6, "counter at 40": 0.25, "wait": 0.05}
    model = connect()
    out = model.choose(_requests(6))
    orders = {
        ChoicePlan.build(ChooseRequest("q", tuple(OPTIONS), s), "off").order for s in range(6)
    }
    assert len(orders) > 1  # the listings really were shuffled
    for choice in out:
        assert (choice.index, choice.method) == (1, "answer")
        expected = [math.log(server.option_probs[o]) for o in OPTIONS]
        assert choice.scores == pytest.approx(expected)


def test_an_option_missing_from_the_top_logprobs_gets_a_bound_below_the_listed(server, connect):
    server.choose = "probs"
    server.option_probs = {"accept": 0.7, "reject": 0.3}
    model = connect(structured="off")
    (choice,) = model.choose(_requests(1))
    assert choice.index == 0 and choice.raw.strip() in {"1", "2", "3", "4"}
    assert choice.scores[:2] == pytest.approx([math.log(0.7), math.log(0.3)])
    assert all(s < math.log(0.3) for s in choice.scores[2:])


@pytest.mark.parametrize(
    ("mode", "field", "value"),
    [
        ("guided", "guided_choice", ["1", "2", "3", "4"]),
        ("llamacpp", "json_schema", None),
        ("off", None, None),
    ],
)
def test_each_structured_mode_constrains_the_answer_its_way(server, connect, mode, field, value):
    server.choose = "first"
    model = connect(structured=mode)
    (choice,) = model.choose(_requests(1))
    assert choice.method == "answer" and choice.usage.structured == mode
    body = server.requests[0]["body"]
    assert "response_format" not in body
    if field is None:
        assert not {"guided_choice", "guided_json", "json_schema"} & set(body)
        assert "Answer with only the number" in body["messages"][-1]["content"]
    elif value is not None:
        assert body[field] == value
    else:
        assert body[field]["properties"]["choice"]["enum"] == ["1", "2", "3", "4"]


def test_without_choice_logprobs_none_are_asked_and_no_scores_kept(server, connect):
    server.choose = "probs"
    server.option_probs = {"wait": 1.0}
    model = connect(choice_logprobs=False)
    (choice,) = model.choose(_requests(1))
    assert choice.index == 3 and choice.scores == ()
    assert "logprobs" not in server.requests[0]["body"]


def test_a_server_that_rejects_logprobs_fails_the_call_with_a_fix(server, connect):
    model = connect(structured="off")
    server.script = ["400"]
    with pytest.raises(EndpointError) as caught:
        model.choose(_requests(1))
    message = str(caught.value)
    assert "'fake-model'" in message and server.base_url in message
    assert "choice_logprobs: false" in message and "\n" not in message


def test_a_failed_choice_request_falls_back_and_says_why(server, connect):
    server.choose = "first"
    model = connect(max_retries=1)
    good, bad = model.choose(
        [
            {"messages": "fine", "options": OPTIONS, "seed": 3},
            {"messages": "broken [fault:503]", "options": OPTIONS, "seed": 3},
        ]
    )
    assert good.method == "answer" and not good.failed
    assert bad.method == "fallback" and bad.failed and bad.transient
    assert "HTTP 503" in bad.error and bad.usage.requests == 2
    assert (
        bad.index == ChoicePlan.build(ChooseRequest("x", tuple(OPTIONS), 3), "off").fallback_index()
    )


def test_scores_find_the_id_inside_a_token_that_merges_it_with_json():
    plan = ChoicePlan.build(ChooseRequest("q", ("a", "b", "c"), seed=1), "json_schema")
    text = '{"choice":"2"}'
    tokens = [
        {"token": '{"', "logprob": 0.0},
        {"token": "choice", "logprob": 0.0},
        {
            "token": '":"2',
            "logprob": math.log(0.5),
            "top_logprobs": [
                {"token": '":"2', "logprob": math.log(0.5)},
                {"token": '":"1', "logprob": math.log(0.3)},
                {"token": '":"3', "logprob": math.log(0.2)},
            ],
        },
        {"token": '"}', "logprob": 0.0},
    ]
    k = plan.parse(text)
    assert k == 1
    scores = plan.scores(tokens, text, k)
    by_id = {plan.ids[pos]: scores[plan.order[pos]] for pos in range(3)}
    assert by_id == pytest.approx({"1": math.log(0.3), "2": math.log(0.5), "3": math.log(0.2)})


def test_no_scores_when_ids_split_over_tokens():
    options = tuple(f"o{i}" for i in range(12))
    plan = ChoicePlan.build(ChooseRequest("q", options, seed=0), "off")
    top = [{"token": str(d), "logprob": math.log(0.1)} for d in range(1, 10)]
    tokens = [{"token": "1", "logprob": math.log(0.1), "top_logprobs": top}, {"token": "2"}]
    assert plan.parse("12") == 11
    assert plan.scores(tokens, "12", 11) == ()  # "1" would stand for 1 and 10-12
    assert plan.scores(tokens[:1], "3", 2) == ()


@pytest.mark.parametrize("answer", ["2", "2.", '"2"', " '2' ", '{"choice": "2"}', '{"choice": 2}'])
def test_exactly_one_id_is_accepted(answer):
    plan = ChoicePlan.build(ChooseRequest("q", ("a", "b", "c")), "off")
    assert plan.parse(answer) == 1


@pytest.mark.parametrize(
    "answer", ["", "Option 2", "2 or 3", "I choose 2.", "1. a\n2. b", "b", '{"choice": "9"}', "4"]
)
def test_anything_else_is_not_an_answer(answer):
    plan = ChoicePlan.build(ChooseRequest("q", ("a", "b", "c")), "off")
    assert plan.parse(answer) is None
