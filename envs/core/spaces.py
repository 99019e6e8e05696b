"""Free-text spaces: messages people and language models actually write.

Gymnasium's `Text` defaults to an alphanumeric charset with ``min_length=1``, so it rejects ``""``,
spaces, punctuation and ``"café"``. `FreeText` accepts any Unicode string within its length bounds
and samples odd but valid text, so random-action tests exercise an env's message handling.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Space, Text

# What `FreeText.sample` draws from: printable ASCII (letters, digits, punctuation, space, tab,
# newline) plus a few non-ASCII letters, a currency sign, CJK and an emoji. Each is one code point.
SAMPLE_CHARSET: str = (
    string.ascii_letters + string.digits + string.punctuation + " \t\n" + "éüñßçøЖ中€😀"
)
# `Text`'s charset tables, built once: `Text.__init__` builds them per instance (a dict of numpy
# ints), which made a game env with a 99-round offer history cost ~10 ms to construct.
_CHAR_SET: frozenset[str] = frozenset(SAMPLE_CHARSET)
_CHAR_LIST: tuple[str, ...] = tuple(SAMPLE_CHARSET)
_CHAR_INDEX: dict[str, np.int32] = {c: np.int32(i) for i, c in enumerate(_CHAR_LIST)}
_CHAR_STR: str = "".join(sorted(_CHAR_LIST))


class FreeText(Text):
    """Any Python ``str`` with ``min_length <= len(text) <= max_length``, in any script.

    Membership ignores the charset; only `sample` uses it (`SAMPLE_CHARSET`), and a sample's
    ``(length, charset_mask)`` mask indexes `character_list` as in `gymnasium.spaces.Text`.
    Not flattenable to a fixed-size array: RL code needs a text encoder.
    """

    def __init__(
        self,
        max_length: int,
        min_length: int = 0,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if not all(isinstance(n, int | np.integer) for n in (min_length, max_length)):
            raise TypeError(f"FreeText lengths must be integers, got {min_length!r}, "
                            f"{max_length!r}")  # fmt: skip
        if not 0 <= min_length <= max_length:
            raise ValueError(f"FreeText needs 0 <= min_length <= max_length, got {min_length}, "
                             f"{max_length}")  # fmt: skip
        # What `Text.__init__` sets, from the shared tables (read-only for every instance).
        self.min_length: int = int(min_length)
        self.max_length: int = int(max_length)
        self._char_set, self._char_list = _CHAR_SET, _CHAR_LIST
        self._char_index, self._char_str = _CHAR_INDEX, _CHAR_STR
        Space.__init__(self, dtype=str, seed=seed)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a ``str`` of allowed length; any characters are allowed."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    @property
    def is_np_flattenable(self) -> bool:
        """False: arbitrary Unicode has no fixed index into a charset."""
        return False

    def to_jsonable(self, sample_n: Sequence[str]) -> list[str]:
        """Strings are JSON already."""
        return [str(text) for text in sample_n]

    def from_jsonable(self, sample_n: list[Any]) -> list[str]:
        """Strings back from JSON."""
        return [str(text) for text in sample_n]

    def __repr__(self) -> str:
        return f"FreeText({self.max_length}, min_length={self.min_length})"

    def __eq__(self, other: object, /) -> bool:
        return (
            isinstance(other, FreeText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )


def normalize_text(text: Any, max_length: int) -> str:
    """Incoming text as an env should store it: ``str()`` of non-strings, NFC, at most
    ``max_length`` characters.

    NFC makes composed and decomposed spellings (``"café"`` two ways) compare equal.
    """
    if max_length < 0:
        raise ValueError(f"max_length must be >= 0, got {max_length}")
    as_str = text if isinstance(text, str) else str(text)
    return unicodedata.normalize("NFC", as_str)[:max_length]
