"""`mercato bench llm`: tokens/s of a model at several batch sizes, as ratios measured in one run.

Each batch size gets the same kind of prompts (distinct topics, long-answer requests, greedy
decoding), so the only thing that changes between rows is how many requests share a call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sim.llm import GenerateRequest, LanguageModel

TOPICS = (
    "open-air markets",
    "bargaining over a used car",
    "how auctions work",
    "saving for a house",
    "choosing a restaurant",
    "hiring a plumber",
    "subscription traps",
    "the price of coffee",
    "negotiating a salary",
    "buying a laptop",
    "comparing phone plans",
    "renting an apartment",
    "tipping customs",
    "online reviews",
    "impulse purchases",
    "loyalty programs",
    "farmers' markets",
    "haggling while travelling",
    "second-hand books",
    "concert tickets",
    "insurance choices",
    "energy bills",
    "meal kits",
    "gym memberships",
    "home repairs",
    "airline fares",
    "street food",
    "budgeting apps",
    "gift shopping",
    "car maintenance",
    "grocery prices",
    "choosing a bank",
)


@dataclass(frozen=True)
class BenchRow:
    """Throughput at one batch size."""

    batch_size: int
    calls: int
    completion_tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


def bench_requests(batch_size: int, max_tokens: int, offset: int = 0) -> list[GenerateRequest]:
    """``batch_size`` distinct long-answer prompts (about 40 prompt tokens each)."""
    return [
        GenerateRequest(
            messages=(
                {
                    "role": "user",
                    "content": "Write a long, detailed paragraph for a general audience about "
                    f"{TOPICS[(offset + i) % len(TOPICS)]}. Give concrete examples.",
                },
            ),
            max_tokens=max_tokens,
        )
        for i in range(batch_size)
    ]


def bench_generate(
    model: LanguageModel, batch_sizes: list[int], max_tokens: int = 64, rounds: int = 1
) -> list[BenchRow]:
    """Time ``rounds`` generate calls at each batch size, after one small warm-up call."""
    model.generate(bench_requests(1, 4))
    rows = []
    for size in batch_sizes:
        tokens, seconds = 0, 0.0
        for r in range(rounds):
            requests = bench_requests(size, max_tokens, offset=r * size)
            started = time.perf_counter()
            completions = model.generate(requests)
            seconds += time.perf_counter() - started
            tokens += sum(c.usage.completion_tokens for c in completions)
        rows.append(BenchRow(size, rounds, tokens, seconds))
    return rows
