"""Prompt key/value states the `local` backend keeps between calls, and options packed to score.

A decision's constrained choice asks about the prompt its ``generate`` just ran, so the
backend keeps each generate batch's prompt states (`PromptStore`) and scores options on top of
them (`PackedOptions`: a prompt's options in one row, each seeing only the prompt and itself)
instead of running the prompt again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NamedTuple


class OptionLoglik(NamedTuple):
    """One option's log-likelihood after its prompt: ``total`` over its ``tokens`` (the option's
    tokens and the end token)."""

    total: float
    tokens: int

    @property
    def mean(self) -> float:
        """Log-likelihood per token: the length-neutral score `choose` ranks options by."""
        return self.total / self.tokens


@dataclass(frozen=True)
class PackedOptions:
    """The options of a batch of prompts, packed one row per prompt after its last token.

    Row ``r`` runs the prompt's last token (query column 0), then each option's tokens in turn,
    right-padded. An option sees the prompt, the last token and its own earlier tokens only, and
    its positions restart after the prompt, so each scores as if it ran alone after its prompt.
    """

    tokens: list[list[int]]
    """Per row, its options' tokens one after another (padded), after the prompt's last token."""
    offsets: list[list[int]]
    """Per row and query column, the position after the prompt's last token (0 for it)."""
    blocks: list[list[int]]
    """Per row and query column: 0 the prompt's last token, k + 1 option k, -1 padding."""
    targets: list[tuple[int, int, int, int]]
    """Each option token as ``(row, column whose logits predict it, token, option number)``."""
    option_rows: list[int]
    """Each option number's row (options are numbered row by row, in option order)."""
    counts: list[int]
    """Each option number's token count."""

    @classmethod
    def of(cls, options: list[list[list[int]]], pad: int) -> PackedOptions:
        width = max(sum(len(o) for o in opts) for opts in options)
        tokens, offsets, blocks, targets, option_rows, counts = [], [], [], [], [], []
        for r, opts in enumerate(options):
            row, offset, block = [], [0], [0]
            for k, option in enumerate(opts):
                for j, token in enumerate(option):
                    targets.append((r, len(row) if j else 0, token, len(counts)))
                    row.append(token)
                offset.extend(range(1, len(option) + 1))
                block.extend([k + 1] * len(option))
                option_rows.append(r)
                counts.append(len(option))
            gap = width - len(row)
            tokens.append(row + [pad] * gap)
            offsets.append(offset + [0] * gap)
            blocks.append(block + [-1] * gap)
        return cls(tokens, offsets, blocks, targets, option_rows, counts)

    def attention(self, prompt_mask: Any, dtype: Any) -> Any:
        """The additive 4D mask ``[rows, 1, queries, prompt columns + queries]``: queries see the
        prompt's tokens (``prompt_mask``), the last token and their own option's earlier tokens."""
        import torch

        blocks = torch.tensor(self.blocks, device=prompt_mask.device)
        queries = blocks.shape[1]
        column = torch.arange(queries, device=blocks.device)
        earlier = column[:, None] >= column[None, :]
        own = (blocks[:, None, :] == 0) | (blocks[:, :, None] == blocks[:, None, :])
        prompt = prompt_mask.bool()[:, None, :].expand(-1, queries, -1)
        seen = torch.cat([prompt, earlier & own], dim=2)[:, None]
        hidden = torch.zeros(seen.shape, dtype=dtype, device=seen.device)
        return hidden.masked_fill_(~seen, torch.finfo(dtype).min)


@dataclass(frozen=True)
class PromptStates:
    """Key/value states of a left-padded prompt batch, over every column but the last.

    ``layers`` holds each layer's ``(keys, values)``, shaped ``[rows, heads, columns, head_dim]``;
    ``mask`` marks the columns that are tokens (not padding); ``last`` is each row's last prompt
    token, not yet run: scoring feeds it first, so its logits rank an option's first token.
    """

    layers: tuple[tuple[Any, Any], ...]
    mask: Any
    last: Any

    @classmethod
    def of(cls, cache: Any, ids: Any, mask: Any) -> PromptStates:
        """The states a `LocalModel._prefill` cache holds. The tensors are kept, not copied: the
        model's dynamic cache grows by concatenation, so a later ``generate`` leaves them as they
        are."""
        layers = tuple((layer.keys, layer.values) for layer in cache.layers)
        return cls(layers, mask[:, :-1], ids[:, -1])

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for pair in self.layers for t in pair)

    def select(self, rows: Any) -> PromptStates:
        """These states for ``rows`` (a tensor of row indices), in that order."""
        layers = tuple((k.index_select(0, rows), v.index_select(0, rows)) for k, v in self.layers)
        return PromptStates(
            layers, self.mask.index_select(0, rows), self.last.index_select(0, rows)
        )

    def cache(self) -> Any:
        """A fresh dynamic cache holding these states (for the model to continue from)."""
        from transformers import DynamicCache

        return DynamicCache(self.layers)

    def padded(self, width: int) -> PromptStates:
        """These states left-padded to ``width`` columns (zeros, masked out)."""
        from torch.nn.functional import pad

        gap = width - self.mask.shape[1]
        if gap == 0:
            return self
        layers = tuple((pad(k, (0, 0, gap, 0)), pad(v, (0, 0, gap, 0))) for k, v in self.layers)
        return PromptStates(layers, pad(self.mask, (gap, 0)), self.last)

    @staticmethod
    def stack(parts: list[PromptStates]) -> PromptStates:
        """The rows of ``parts`` as one batch, each part left-padded to the widest."""
        import torch

        width = max(p.mask.shape[1] for p in parts)
        parts = [p.padded(width) for p in parts]
        layers = tuple(
            (torch.cat([p.layers[i][0] for p in parts]), torch.cat([p.layers[i][1] for p in parts]))
            for i in range(len(parts[0].layers))
        )
        mask = torch.cat([p.mask for p in parts])
        return PromptStates(layers, mask, torch.cat([p.last for p in parts]))


class PromptStore:
    """The `PromptStates` of recent ``generate`` batches, found by a row's prompt tokens.

    ``choose`` asked about a prompt just generated from (the choice fallback of an unparsable
    reply) takes its states from here instead of running the prompt again. Whole batches are kept,
    at most ``max_bytes`` of states in all; the oldest batch is dropped first.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._batches: OrderedDict[int, tuple[PromptStates, list[tuple[int, ...]]]] = OrderedDict()
        self._rows: dict[tuple[int, ...], tuple[int, int]] = {}
        self._added = 0

    def put(self, rows: list[list[int]], states: PromptStates) -> None:
        """Keep ``states``, whose row ``r`` is the prompt ``rows[r]`` (token ids)."""
        size = states.nbytes
        if size > self.max_bytes:
            return
        while self._batches and self.nbytes + size > self.max_bytes:
            self._drop_oldest()
        number, self._added = self._added, self._added + 1
        keys = [tuple(row) for row in rows]
        self._batches[number] = (states, keys)
        self._rows.update({key: (number, r) for r, key in enumerate(keys)})
        self.nbytes += size

    def get(self, row: list[int]) -> tuple[PromptStates, int] | None:
        """The stored batch holding the prompt ``row`` (token ids) and its row there, or None."""
        found = self._rows.get(tuple(row))
        return None if found is None else (self._batches[found[0]][0], found[1])

    def clear(self) -> None:
        self._batches.clear()
        self._rows.clear()
        self.nbytes = 0

    def _drop_oldest(self) -> None:
        number, (states, keys) = self._batches.popitem(last=False)
        self.nbytes -= states.nbytes
        for key in keys:
            if self._rows.get(key, (None,))[0] == number:
                del self._rows[key]


def grows_by_concatenation(cache: Any) -> bool:
    """Whether every layer of ``cache`` is a plain dynamic layer: it keeps every column (no
    sliding window) and grows by concatenation, so states taken from it stay valid."""
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in cache.layers)
