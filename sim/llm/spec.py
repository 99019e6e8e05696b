"""`make_model(spec)`: build any backend, with wrappers, from a short string or a dict.

Strings: ``"fake"``, ``"local"``, ``"local:PATH_OR_NAME"``, ``"openai:MODEL@BASE_URL"`` (a string
spec sends no API key except to api.openai.com; name ``api_key_env`` in a dict spec to send one).
Every backend takes ``structured`` (``local``: ``grammar`` | ``off``; ``openai``: ``json_schema`` |
``guided`` | ``llamacpp`` | ``off``; ``fake``: ``json_schema`` | ``off``).
Dicts: ``{"backend": "local"|"openai"|"fake", ...backend arguments...,
"retry": {"attempts": 3, "backoff_s": 0.5}, "cache": PATH, "budget": {"max_requests": N,
"max_tokens": N}}``. Wrappers apply innermost first: retry, then budget, then cache (so cache hits
cost no budget).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from sim.llm.errors import UnknownModelSpecError
from sim.llm.types import LanguageModel

SPEC_FORMS = ("fake", "local", "local:PATH_OR_NAME", "openai:MODEL@BASE_URL")
WRAPPER_KEYS = ("retry", "cache", "budget")


BACKENDS = {
    "fake": "sim.llm.fake:FakeModel",
    "local": "sim.llm.local:LocalModel",
    "openai": "sim.llm.openai_compatible:OpenAICompatibleModel",
}
"""Backend name -> class, imported on use so that `fake` never loads torch."""


def backend_class(backend: str) -> type:
    """The class implementing ``backend``."""
    module, attr = BACKENDS[backend].split(":")
    return getattr(importlib.import_module(module), attr)


def parse_spec(spec: str) -> dict[str, Any]:
    """Turn a short string spec into the dict form."""
    text = spec.strip()
    if text in ("fake", "local"):
        return {"backend": text}
    if text.startswith("local:") and len(text) > len("local:"):
        return {"backend": "local", "path": text[len("local:") :]}
    if text.startswith("openai:"):
        model, sep, base_url = text[len("openai:") :].partition("@")
        if model and sep and base_url.startswith(("http://", "https://")):
            return {"backend": "openai", "model": model, "base_url": base_url}
        raise UnknownModelSpecError(
            f"model spec {spec!r}: expected 'openai:MODEL@BASE_URL' with an http(s) URL"
        )
    raise UnknownModelSpecError(
        f"model spec {spec!r}: unknown; valid forms: {', '.join(SPEC_FORMS)}"
    )


def _check_arguments(backend: str, init: Any, args: Mapping) -> None:
    allowed = [p for p in inspect.signature(init).parameters if p != "self"]
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise UnknownModelSpecError(
            f"model spec: unknown field(s) {unknown} for backend {backend!r}; allowed: "
            f"{sorted(allowed) + list(WRAPPER_KEYS)}"
        )


def make_model(spec: str | Mapping[str, Any] | LanguageModel) -> LanguageModel:
    """Build a model from a spec string or dict; a model object passes through unchanged."""
    if isinstance(spec, LanguageModel):
        return spec
    if isinstance(spec, str):
        config = parse_spec(spec)
    elif isinstance(spec, Mapping):
        config = dict(spec)
    else:
        raise UnknownModelSpecError(
            f"model spec: expected a string or a dict, got {type(spec).__name__}"
        )
    backend = config.pop("backend", None)
    if backend not in BACKENDS:
        raise UnknownModelSpecError(
            f"model spec: backend {backend!r} is unknown; valid backends: {sorted(BACKENDS)}"
        )
    wrappers = {k: config.pop(k) for k in WRAPPER_KEYS if k in config}
    cls = backend_class(backend)
    _check_arguments(backend, cls.__init__, config)
    model = cls(**config)
    return _wrap(model, wrappers)


def _wrap(model: LanguageModel, wrappers: Mapping[str, Any]) -> LanguageModel:
    from sim.llm.wrappers import BudgetedModel, CachedModel, RetryingModel

    if "retry" in wrappers:
        model = RetryingModel(model, **_as_kwargs("retry", wrappers["retry"]))
    if "budget" in wrappers:
        model = BudgetedModel(model, **_as_kwargs("budget", wrappers["budget"]))
    if wrappers.get("cache"):
        model = CachedModel(model, wrappers["cache"])
    return model


def _as_kwargs(name: str, value: Any) -> dict[str, Any]:
    if value is True:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    raise UnknownModelSpecError(f"model spec: {name!r} expects a dict of options or true")
