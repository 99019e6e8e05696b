"""Checks of what an LLM player's prompt shows: every fact its role acts on, nothing hidden.

`prompt_of` renders the messages an `LLMPolicy` (fake model, the env's own role prompts) opens a
decision with; `assert_shows` and `assert_hides` check values in that text, naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.registry import make_policy


@dataclass(frozen=True)
class Prompt:
    """An opening prompt: the system message (role, rules, format) and the user message (state)."""

    system: str
    user: str
    reply_tokens: int
    stop: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.system + "\n\n" + self.user


def prompt_of(env: Any, observation: Any, agent: str, *, structured: bool = False) -> Prompt:
    """The prompt an LLM player of ``env`` (unwrapped) gets for ``observation`` as ``agent``."""
    model = {"backend": "fake", "structured": "json_schema"} if structured else "fake"
    player = make_policy("llm", env, seed=0, model=model)
    schema = player.schema_for(observation, agent)
    system, user = player.prompt_for(observation, agent, schema)
    return Prompt(
        system["content"],
        user["content"],
        player.protocol.reply_tokens(agent),
        player.protocol.stop_sequences(agent),
    )


def assert_shows(text: str, facts: Mapping[str, Any], role: str) -> None:
    """Every fact's value (as written, or each of several spellings) appears in ``text``."""
    for name, value in facts.items():
        spellings = value if isinstance(value, tuple) else (value,)
        assert any(str(s) in text for s in spellings), (
            f"{role}: the prompt does not show {name} = {value!r}:\n{text}"
        )


def assert_hides(text: str, secrets: Mapping[str, Any], role: str) -> None:
    """No secret's value appears in ``text``."""
    for name, value in secrets.items():
        assert str(value) not in text, f"{role}: the prompt shows hidden {name} = {value!r}"


def assert_format_once(prompt: Prompt, format_lines: Iterable[str], role: str) -> None:
    """The answer format is stated once: each format line is in the prompt, not in both turns."""
    for line in format_lines:
        assert line in prompt.text, f"{role}: the prompt lacks its format line {line!r}"
        assert not (line in prompt.system and line in prompt.user), (
            f"{role}: the format line {line!r} is repeated in both turns"
        )
