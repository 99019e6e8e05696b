"""Seeding helpers: every random draw in an episode derives from the seed passed to ``reset``.

Python's ``hash()`` of a str is salted per process, so keys (agent names, component names) are
hashed with blake2b instead; the same seed and keys give the same streams in every process.
"""

from __future__ import annotations

import hashlib
import numbers
from typing import Any

import numpy as np
from gymnasium.utils import seeding

_HASH_BITS = 63
_SEED_BOUND = 2**31


def make_rng(seed: int | None) -> tuple[np.random.Generator, int]:
    """A generator and the int seed it came from (drawn from OS entropy when ``seed`` is None).

    Keep the returned seed: `child_rng` derives per-agent streams from it.
    """
    return seeding.np_random(seed)


def _canonical(part: Any) -> str:
    """One hash part as text; numpy and Python numbers of equal value hash alike."""
    if isinstance(part, numbers.Integral):
        return repr(int(part))
    if isinstance(part, numbers.Real):
        return repr(float(part))
    return repr(part)


def stable_hash(*parts: Any) -> int:
    """A 63-bit non-negative hash of ``parts``, equal across processes and runs.

    Parts are hashed by ``repr`` (numbers by value), so ``stable_hash("1") != stable_hash(1)``.
    """
    text = "\x1f".join(_canonical(part) for part in parts)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - _HASH_BITS)


def derive_seed(*parts: Any) -> int:
    """An int seed in ``[0, 2**31)`` for libraries that take one (networkx, Mesa, sub-RNGs)."""
    return stable_hash(*parts) % _SEED_BOUND


def child_rng(seed: int, *keys: Any) -> np.random.Generator:
    """An independent generator for ``keys`` (e.g. an agent name) under the episode ``seed``.

    Streams for different keys do not overlap, and drawing from one never shifts another.
    """
    sequence = np.random.SeedSequence(entropy=[int(seed), stable_hash(*keys)])
    return np.random.default_rng(sequence)
