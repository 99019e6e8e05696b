"""A fake sentence encoder for search tests: a hashed bag of words, so texts that share words get
similar unit vectors, without loading the real model."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[^\s.,]+")


class BagOfWordsEncoder:
    """Counts ``encode`` calls, so tests can check vectors are cached."""

    model_id = "bag-of-words"
    dim = 64

    @staticmethod
    def words(text: str) -> list[str]:
        """The words hashed: split at whitespace, full stops and commas (override to change)."""
        return _WORD.findall(text.lower())

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self.words(text):
                out[row, sum(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)
