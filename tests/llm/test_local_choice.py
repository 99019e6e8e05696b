"""The local backend's constrained choice: length-neutral scores, prompt states reused from
``generate`` (`PromptStore`).

The model tests load the real bundled model (SmolLM2-135M-Instruct) and are marked ``real_llm``.
"""

from __future__ import annotations

import pytest
import torch

from sim.llm.prompt_states import PackedOptions, PromptStates, PromptStore

real_llm = pytest.mark.real_llm

# (question, correct option, wrong option): every correct option is clearly the longer one
LONG_RIGHT_SHORT_WRONG = [
    ("What colour is the sky on a clear day?", "blue-ish azure sky colour", "no"),
    ("What do cows drink?", "water from a trough", "milk"),
    ("Name the capital city of France.", "Paris, the capital of France", "Rome"),
    ("What is the opposite of hot?", "cold, like ice and snow", "up"),
    ("What do bees make?", "honey from flower nectar", "milk"),
    ("How many legs does a spider have?", "eight legs, four on each side", "six"),
    ("Where do fish live?", "in the water of rivers and seas", "trees"),
    ("What is frozen water called?", "ice, solid frozen water", "fire"),
    ("In a market, what does a buyer give a seller for goods?", "money as payment", "no"),
    ("Which is bigger, an elephant or a mouse?", "the elephant is much bigger", "mouse"),
]

SELLER = {
    "role": "system",
    "content": "You are a seller in a bargaining game over a used bike. Your reservation price is "
    "hidden from the buyer. Each turn you may OFFER a price, ACCEPT the buyer's offer, or LEAVE. "
    "Answer with one command on the first line.",
}


def bargaining(turn: str) -> list[dict[str, str]]:
    return [SELLER, {"role": "user", "content": turn}]


@pytest.fixture(scope="module")
def model(local_model):
    """The session's bundled model (tests/llm/conftest.py), loaded once."""
    return local_model


@real_llm
def test_per_token_scores_pick_long_right_answers_that_summed_scores_miss(model):
    requests, right = [], []
    for k, (question, correct, wrong) in enumerate(LONG_RIGHT_SHORT_WRONG):
        options = [correct, wrong] if k % 2 == 0 else [wrong, correct]  # no position to lean on
        requests.append({"messages": f"Answer briefly. {question}", "options": options})
        right.append(options.index(correct))
    logliks = model.option_logliks(requests)
    summed = [max(range(2), key=lambda k, ls=ls: ls[k].total) for ls in logliks]
    per_token = [max(range(2), key=lambda k, ls=ls: ls[k].mean) for ls in logliks]
    choices = model.choose(requests)
    assert [c.index for c in choices] == per_token
    assert [list(c.scores) for c in choices] == [[x.mean for x in ls] for ls in logliks]
    summed_right = sum(s == r for s, r in zip(summed, right, strict=True))
    per_token_right = sum(p == r for p, r in zip(per_token, right, strict=True))
    assert per_token_right > summed_right
    assert per_token_right >= 8


@real_llm
def test_scores_reuse_the_prompts_generate_ran_and_equal_fresh_ones(model):
    turns = ["The buyer offers 40.", "The buyer offers 75 and says it is final.", "The buyer left."]
    model.prompt_store.clear()
    model.generate([{"messages": bargaining(t), "max_tokens": 6} for t in turns])
    options = ["ACCEPT", "OFFER 60", "LEAVE because the offer is far too low"]
    requests = [{"messages": bargaining(t), "options": options} for t in turns]
    reused = model.choose(requests)
    model.prompt_store.clear()
    fresh = model.choose(requests)
    for again, first in zip(reused, fresh, strict=True):
        assert again.scores == pytest.approx(first.scores, abs=1e-4)
        assert again.index == first.index
        # a reused prompt runs only its last token again
        assert again.usage.prompt_tokens < first.usage.prompt_tokens / 4


@real_llm
def test_one_token_and_long_options_over_stored_and_new_prompts(model, monkeypatch):
    first = ["The buyer offers 10.", "The buyer asks about the brakes."]
    second = ["The buyer offers 55 for the bike, cash today, and asks for a helmet as well."]
    model.prompt_store.clear()
    model.generate([{"messages": bargaining(t), "max_tokens": 4} for t in first])
    model.generate([{"messages": bargaining(t), "max_tokens": 4} for t in second])  # a wider batch
    turns = [first[0], "A prompt no generate ran.", second[0], first[1]]
    options = [
        ["A", "LEAVE"],
        ["yes", "no, because the price is much too high for me"],
        ["OFFER 70 and a free helmet for the ride home", "ACCEPT"],
        ["B"],
    ]
    requests = [
        {"messages": bargaining(t), "options": o} for t, o in zip(turns, options, strict=True)
    ]
    monkeypatch.setattr(model, "max_batch_size", 4)  # chunks mix stored, new, two widths
    mixed = model.choose(requests)
    model.prompt_store.clear()
    fresh = model.choose(requests)
    assert [len(c.scores) for c in mixed] == [2, 2, 2, 1]
    for got, want in zip(mixed, fresh, strict=True):
        assert got.scores == pytest.approx(want.scores, abs=1e-4)
        assert got.index == want.index
    assert mixed[1].usage.prompt_tokens == fresh[1].usage.prompt_tokens  # not stored: run again
    assert mixed[3].usage.prompt_tokens < fresh[3].usage.prompt_tokens


def states(rows: int, columns: int) -> PromptStates:
    keys = torch.zeros(rows, 1, columns, 2)
    mask = torch.ones(rows, columns, dtype=torch.long)
    return PromptStates(((keys, keys),), mask, torch.zeros(rows, dtype=torch.long))


def test_the_store_drops_its_oldest_batches_beyond_its_bound():
    one = states(2, 4).nbytes
    store = PromptStore(max_bytes=2 * one)
    store.put([[1], [2]], states(2, 4))
    store.put([[3], [4]], states(2, 4))
    assert store.get([2])[1] == 1 and store.get([3]) is not None
    store.put([[5], [1]], states(2, 4))
    assert store.get([2]) is None  # its batch was the oldest
    assert store.get([1])[1] == 1  # now found in the newest batch
    assert store.nbytes == 2 * one
    store.put([[6]] * 5, states(5, 4))  # larger than the bound: not kept
    assert store.get([6]) is None and store.get([5]) is not None


def test_stacked_states_are_left_padded_and_masked():
    narrow, wide = states(1, 2), states(2, 3)
    stacked = PromptStates.stack([narrow, wide])
    assert stacked.mask.tolist() == [[0, 1, 1], [1, 1, 1], [1, 1, 1]]
    assert stacked.layers[0][0].shape == (3, 1, 3, 2)


def test_packed_options_see_the_prompt_and_only_their_own_earlier_tokens():
    packed = PackedOptions.of([[[7, 0], [8]], [[9, 0]]], pad=0)
    assert packed.tokens == [[7, 0, 8], [9, 0, 0]]
    assert packed.offsets == [[0, 1, 2, 1], [0, 1, 2, 0]]
    # option 1's first token (8) is predicted by the prompt's last token, column 0
    assert packed.targets == [(0, 0, 7, 0), (0, 1, 0, 0), (0, 0, 8, 1), (1, 0, 9, 2), (1, 1, 0, 2)]
    assert packed.option_rows == [0, 0, 1] and packed.counts == [2, 1, 2]
    prompt_mask = torch.tensor([[0, 1], [1, 1]])
    seen = packed.attention(prompt_mask, torch.float32)[:, 0] == 0
    assert seen[0].tolist() == [
        [False, True, True, False, False, False],  # the last prompt token
        [False, True, True, True, False, False],  # option 0, token 0
        [False, True, True, True, True, False],  # option 0, token 1
        [False, True, True, False, False, True],  # option 1 skips option 0
    ]
    assert seen[1, 2].tolist() == [True, True, True, True, True, False]
