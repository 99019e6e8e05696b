"""The real bundled model (SmolLM2-135M-Instruct) on CPU: loads, generates in batches, chooses.

Marked ``real_llm``: it needs the converted model, which `make test` fetches before running. The
model is the session's (`local_model` in tests/llm/conftest.py), loaded once.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.real_llm


@pytest.fixture(scope="module")
def model(local_model):
    """The session's bundled model (tests/llm/conftest.py), loaded once."""
    return local_model


def test_smollm2_generates_a_batch_and_chooses(loaded_local_model):
    model, started = loaded_local_model.model, time.perf_counter()
    prompts = [
        "Name a fruit.",
        "Say hello to a shopkeeper.",
        "What is a fair price?",
        "Count to 3.",
    ]
    completions = model.generate([{"messages": p, "max_tokens": 12} for p in prompts])
    assert len(completions) == 4
    assert all(c.text.strip() for c in completions)
    assert all(
        0 < c.usage.completion_tokens <= 12 and c.usage.prompt_tokens > 0 for c in completions
    )
    assert {c.usage.backend for c in completions} == {"local"}
    choices = model.choose(
        [
            {"messages": "Is the sky blue? Answer yes or no.", "options": ["yes", "no"]},
            {"messages": "What is 2+2?", "options": ["3", "4", "twenty-two"]},
        ]
    )
    assert [len(c.scores) for c in choices] == [2, 3]
    assert all(0 <= c.index < len(c.scores) and c.method == "loglik" for c in choices)
    assert all(c.scores[c.index] == max(c.scores) for c in choices)
    # the budget: load (once per session), a batch of 4 and a choice in under 60 s on 2
    # CPU cores
    assert loaded_local_model.load_s + time.perf_counter() - started < 60


def test_seeded_sampling_does_not_depend_on_the_batch(model):
    story = {"messages": "Tell a story.", "max_tokens": 8, "temperature": 0.9, "seed": 11}
    alone = model.generate([story])[0].text
    batched = model.generate([{"messages": "Hi", "max_tokens": 4}, story, {**story, "seed": 12}])
    assert batched[1].text == alone
    greedy = model.generate([{"messages": "Tell a story.", "max_tokens": 8}] * 2)
    assert greedy[0].text == greedy[1].text


def test_per_request_stop_and_max_tokens_in_one_batch(model):
    out = model.generate(
        [
            {
                "messages": "Count from 1 to 20, one number per line.",
                "max_tokens": 40,
                "stop": ["5"],
            },
            {"messages": "Describe the sea.", "max_tokens": 3},
        ]
    )
    assert "5" not in out[0].text and out[0].finish_reason == "stop"
    assert out[1].usage.completion_tokens == 3 and out[1].finish_reason == "length"


def test_prefix_shared_choice_scores_equal_full_sequence_scoring(model):
    """The cached-prompt scorer must give the mean log-likelihood a full-sequence pass gives."""
    import torch

    requests = [
        {"messages": "Pick a colour.", "options": ["red", "dark blue", "a shade of green"]},
        {
            "messages": "A much longer question about offers and counter-offers: yes?",
            "options": ["no", "yes"],
        },
    ]
    choices = model.choose(requests)
    tok = model.tokenizer
    for request, choice in zip(requests, choices, strict=True):
        prompt = tok.apply_chat_template(
            [{"role": "user", "content": request["messages"]}],
            tokenize=False,
            add_generation_prompt=True,
        )
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        for option, score in zip(request["options"], choice.scores, strict=True):
            option_ids = tok(option, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            ids = torch.tensor([prompt_ids + option_ids])
            with torch.inference_mode():
                logprobs = torch.log_softmax(model.model(input_ids=ids).logits[0].float(), dim=-1)
            start = len(prompt_ids)
            total = sum(float(logprobs[start + j - 1, t]) for j, t in enumerate(option_ids))
            assert score == pytest.approx(total / len(option_ids), abs=1e-3)  # per token


def test_a_shared_prompt_prefix_changes_no_greedy_reply(model):
    """Rows sharing a long system prompt are prefilled once; each reply must be what it is alone."""
    system = {"role": "system", "content": "You are a careful shopper. " * 12}
    asks = ["Name a fruit.", "Offer a price for a bike.", "Say no politely."]
    batch = [{"messages": [system, {"role": "user", "content": a}], "max_tokens": 10} for a in asks]
    together = [c.text for c in model.generate(batch)]
    alone = [model.generate([request])[0].text for request in batch]
    assert together == alone
