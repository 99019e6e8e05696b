"""The local backend's batch helpers: position ids of a left-padded batch, shared prompt
prefixes, option chunks for scoring, stop strings, and the per-row sampler and stopper that let
one `generate` call serve requests with different temperatures, seeds and stops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.llm.grammar import RowMatchers
from sim.llm.types import GenerateRequest


def positions(mask: Any) -> Any:
    """Position ids of a left-padded batch: each token's index among its row's tokens."""
    return (mask.cumsum(dim=1) - 1).clamp(min=0)


MIN_SHARED_PREFIX = 16
"""Shorter common prefixes are not worth a separate forward pass."""


def shared_prefix_length(rows: list[list[int]]) -> int:
    """Length of the token prefix common to all rows, leaving every row at least one own token."""
    limit = min(len(row) for row in rows) - 1
    first = rows[0]
    length = 0
    while length < limit and all(row[length] == first[length] for row in rows):
        length += 1
    return length


def option_chunks(option_counts: list[int], budget: int) -> list[list[int]]:
    """Group request indices so a group scores at most ``budget`` options (or one request)."""
    groups: list[list[int]] = [[]]
    used = 0
    for i, n in enumerate(option_counts):
        if groups[-1] and used + n > budget:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += n
    return groups


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string; report whether one was found."""
    cuts = [text.index(s) for s in stops if s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


class RowSampler:
    """Per-row sampling inside one batched greedy ``generate``.

    Rows with temperature > 0 draw their next token from their own seeded generator; the drawn
    token's logit is left as the only finite one, so the greedy step picks it. Rows at
    temperature 0 pass through unchanged (greedy).
    """

    def __init__(self, temperatures: list[float], seeds: list[int], device: Any) -> None:
        import torch

        self.temperatures = temperatures
        self.generators = []
        for t, seed in zip(temperatures, seeds, strict=True):
            g = None
            if t > 0:
                g = torch.Generator(device=device)
                g.manual_seed(seed)
            self.generators.append(g)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        for row, (t, g) in enumerate(zip(self.temperatures, self.generators, strict=True)):
            if g is None:
                continue
            probs = torch.softmax(scores[row].float() / t, dim=-1)
            token = torch.multinomial(probs, 1, generator=g)
            scores[row] = float("-inf")
            scores[row, token] = 0.0
        return scores


class RowStopper:
    """Per-row stopping: a row is done at its own ``max_tokens``, when a stop string appears, or
    (rows with a grammar) as soon as its grammar is complete. It feeds each constrained row the
    token it chose, so the row's matcher masks the next step."""

    def __init__(
        self,
        prompt_len: int,
        requests: list[GenerateRequest],
        tokenizer: Any,
        grammar: RowMatchers | None = None,
    ) -> None:
        self.prompt_len = prompt_len
        self.grammar = grammar
        self.max_tokens = [r.max_tokens for r in requests]
        self.stops = [r.stop for r in requests]
        self.tokenizer = tokenizer
        self.done_at: list[int | None] = [None] * len(requests)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        generated = input_ids.shape[1] - self.prompt_len
        last = input_ids[:, -1].tolist() if self.grammar is not None else []
        for row in range(len(self.done_at)):
            if self.done_at[row] is None and self._ends(row, generated, input_ids, last):
                self.done_at[row] = generated
                if self.grammar is not None:
                    self.grammar.finish(row)
        done = [d is not None for d in self.done_at]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _ends(self, row: int, generated: int, input_ids: Any, last: list[int]) -> bool:
        grammar = self.grammar
        if grammar is not None and grammar.constrained(row) and grammar.advance(row, last[row]):
            return True
        if generated >= self.max_tokens[row]:
            return True
        if self.stops[row]:
            text = self.tokenizer.decode(input_ids[row, self.prompt_len :])
            return any(s in text for s in self.stops[row])
        return False
