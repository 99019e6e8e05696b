"""Preflight: every model a run uses answers one tiny request before anything is played or written.

An unreachable endpoint, an unknown model name, a bad key or a schema form the server rejects
then fails at once with one line naming the model and the endpoint, instead of a run whose every
decision quietly took the safe default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.llm.errors import LLMError
from sim.llm.spec import parse_spec
from sim.llm.types import GenerateRequest, LanguageModel

PREFLIGHT_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}
"""The smallest structured reply: checks that the endpoint accepts our schema form too."""


class PreflightError(LLMError):
    """A model of the run did not answer its preflight request."""


def describe_spec(spec: Any) -> str:
    """A model spec in a few words: backend, model and endpoint (never a key)."""
    config = parse_spec(spec) if isinstance(spec, str) else dict(spec)
    backend = config.get("backend", "?")
    if backend == "openai":
        return f"openai {config.get('model')} at {config.get('base_url')}"
    if backend == "local":
        return f"local {config.get('path', 'smollm2-135m-instruct')}"
    return str(backend)


def model_summary(name: str, spec: Any, model: LanguageModel) -> str:
    """One line for the run's header: the model, its structured mode, where keys go."""
    parts = [f"structured: {getattr(model, 'structured', 'off')}"]
    note = getattr(model, "key_note", None)
    if note:
        parts.append(note)
    return f"{name}: {describe_spec(spec)} ({'; '.join(parts)})"


def preflight(name: str, spec: Any, model: LanguageModel) -> None:
    """Send ``model`` one tiny request (structured where it enforces schemas); raise
    `PreflightError` naming the model and its endpoint when it fails."""
    structured = getattr(model, "structured", "off") != "off"
    request = GenerateRequest(
        messages=({"role": "user", "content": 'Reply with the JSON object {"ok": true}.'},),
        max_tokens=8,
        schema=PREFLIGHT_SCHEMA if structured else None,
    )
    where = f"model {name} ({describe_spec(spec)})"
    try:
        (completion,) = model.generate([request])
    except LLMError as error:
        raise PreflightError(f"{where} failed its preflight request: {one_line(error)}") from None
    if getattr(completion, "error", None) is not None:
        raise PreflightError(f"{where} failed its preflight request: {completion.error}")


def preflight_all(models: Mapping[str, tuple[Any, LanguageModel]]) -> list[str]:
    """Preflight every ``name -> (spec, model)``; return their summary lines."""
    lines = []
    for name, (spec, model) in models.items():
        preflight(name, spec, model)
        lines.append(model_summary(name, spec, model))
    return lines


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
