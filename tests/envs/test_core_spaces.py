"""FreeText accepts what people write; normalize_text cleans it."""

from __future__ import annotations

import copy
import json
import pickle
import unicodedata

import numpy as np
import pytest
from gymnasium.spaces import Dict, Discrete, Text

from envs.core.spaces import SAMPLE_CHARSET, FreeText, normalize_text

ODD_TEXTS = ["", "café", "$80, deal?", "line one\nline two", "😀 ok", "中文 Ж ß", "\t"]


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_free_text_accepts_any_unicode_within_length(text: str) -> None:
    assert FreeText(20).contains(text)
    assert text in FreeText(20)


def test_plain_text_rejects_what_free_text_accepts() -> None:
    # The reason FreeText exists: gymnasium's defaults reject ordinary messages.
    assert not Text(20).contains("$80, deal?")
    assert not Text(20).contains("")
    assert FreeText(20).contains("$80, deal?")


def test_free_text_enforces_length_bounds() -> None:
    space = FreeText(5, min_length=2)
    assert space.contains("ab")
    assert space.contains("abcde")
    assert not space.contains("a")
    assert not space.contains("abcdef")


@pytest.mark.parametrize("value", [b"bytes", 5, 3.5, None, ["a"]])
def test_free_text_rejects_non_strings(value: object) -> None:
    assert not FreeText(20).contains(value)


def test_free_text_inside_dict_space() -> None:
    space = Dict({"message": FreeText(30), "offer": Discrete(3)})
    assert space.contains({"message": "€5, final offer!", "offer": 2})
    assert not space.contains({"message": "x" * 31, "offer": 2})


def test_samples_are_contained_and_varied() -> None:
    space = FreeText(40, min_length=3, seed=0)
    samples = [space.sample() for _ in range(300)]
    assert all(space.contains(text) for text in samples)
    assert {len(text) for text in samples} >= {3, 40}
    characters = set("".join(samples))
    assert " " in characters and "\n" in characters
    assert characters & set("!$,.?'\"")
    assert any(not c.isascii() for c in characters)
    assert characters <= set(SAMPLE_CHARSET)


def test_samples_are_reproducible_from_the_seed() -> None:
    first = [FreeText(30, seed=7).sample() for _ in range(3)]
    assert first[0] == first[1] == first[2]
    a, b = FreeText(30, seed=7), FreeText(30, seed=8)
    assert [a.sample() for _ in range(5)] != [b.sample() for _ in range(5)]


def test_sample_honours_gymnasium_style_mask() -> None:
    space = FreeText(10, seed=0)
    only_a = np.zeros(len(space.character_list), dtype=np.int8)
    only_a[space.character_list.index("a")] = 1
    assert space.sample(mask=(4, only_a)) == "aaaa"
    assert space.sample(mask=(0, None)) == ""


def test_equality_and_repr() -> None:
    assert FreeText(10) == FreeText(10)
    assert FreeText(10) != FreeText(11)
    assert FreeText(10) != FreeText(10, min_length=1)
    assert FreeText(10) != Text(10, min_length=0, charset=SAMPLE_CHARSET)
    assert Text(10, min_length=0, charset=SAMPLE_CHARSET) != FreeText(10)
    assert repr(FreeText(200, min_length=1)) == "FreeText(200, min_length=1)"
    assert eval(repr(FreeText(200, min_length=1))) == FreeText(200, min_length=1)


def test_deepcopy_and_pickle_keep_space_and_rng_state() -> None:
    space = FreeText(25, seed=3)
    space.sample()
    for clone in (copy.deepcopy(space), pickle.loads(pickle.dumps(space))):
        assert clone == space
        assert isinstance(clone, FreeText)
        assert clone.contains("café ☕")
        assert clone.sample() == copy.deepcopy(space).sample()


def test_jsonable_round_trip() -> None:
    space = FreeText(50)
    texts = ["café", "", "$80, deal?\n😀"]
    encoded = json.loads(json.dumps(space.to_jsonable(texts)))
    assert space.from_jsonable(encoded) == texts


def test_free_text_is_not_flattenable() -> None:
    assert not FreeText(10).is_np_flattenable
    assert not Dict({"message": FreeText(10)}).is_np_flattenable


def test_normalize_text_composes_unicode() -> None:
    decomposed = "cafe\u0301"
    assert len(decomposed) == 5
    assert normalize_text(decomposed, 100) == "café"
    assert unicodedata.is_normalized("NFC", normalize_text(decomposed, 100))


def test_normalize_text_truncates_and_coerces() -> None:
    assert normalize_text("abcdef", 3) == "abc"
    assert normalize_text(42, 10) == "42"
    assert normalize_text("keep\nlines", 100) == "keep\nlines"
    with pytest.raises(ValueError, match="max_length"):
        normalize_text("x", -1)


def test_free_text_holds_the_charset_tables_gymnasium_text_would_build():
    """`FreeText` skips `Text.__init__` (it shares prebuilt tables): they must stay equal."""
    from gymnasium.spaces import Text

    from envs.core.spaces import SAMPLE_CHARSET

    ours, theirs = FreeText(50, min_length=2), Text(50, min_length=2, charset=SAMPLE_CHARSET)
    for attribute in ("min_length", "max_length", "_char_set", "_char_list", "_char_index",
                      "_char_str", "dtype", "shape"):  # fmt: skip
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    ours.seed(3)
    theirs.seed(3)
    assert [ours.sample() for _ in range(5)] == [theirs.sample() for _ in range(5)]
