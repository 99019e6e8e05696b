"""The text protocol: how an environment talks to language-model and human players.

Every environment has structured spaces (the truth RL code steps) and one `TextProtocol` that
renders an observation as text, parses text back into a structured action (raising
`ActionParseError` with a message precise enough to re-ask with), and lists the valid actions for
constrained choice, and `describe`s an action as the reply that parses back to it. The protocol
owns the text view: `render` writes it from the structured observation alone (an env's ``text``
field, when it has one, is that view). Environments never import agents; agents use the protocol.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ActionParseError(ValueError):
    """Text that does not parse into a valid action. The message tells the player how to fix it."""


@dataclass(frozen=True)
class ValidAction:
    """One action a player may take now: ``label`` is the exact text that parses to ``action``."""

    label: str
    action: Any


DEFAULT_REPLY_TOKENS = 96
"""Reply budget of a protocol that does not state its own."""


class TextProtocol(ABC):
    """Renders observations as text and parses text into actions for one environment."""

    name: str = "protocol"

    @abstractmethod
    def instructions(self, agent: str) -> str:
        """The rules and the answer format for ``agent``'s role, written for an LLM or a person."""

    @abstractmethod
    def render(self, observation: Any, agent: str) -> str:
        """The observation as text: what ``agent`` knows now and what it must decide."""

    @abstractmethod
    def parse(self, text: str, observation: Any, agent: str) -> Any:
        """Turn a reply into a structured action or raise `ActionParseError` saying what's wrong."""

    @abstractmethod
    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        """The actions ``agent`` may take now, most conservative first.

        Each label must parse to its action. The list may be a representative subset where the
        action space is large (e.g. a grid of prices), so constrained choice stays cheap.
        """

    def render_end(
        self, observation: Any, agent: str, metrics: Mapping[str, Any], truncated: bool
    ) -> str | None:
        """How the episode ended, as ``agent``'s role may be told it (one or two sentences,
        e.g. the accepted split); None when this protocol has nothing to add to `render` of the
        final observation. ``metrics`` are the episode's: an implementation picks only what the
        role knows by the rules (a public deal, never another player's private value)."""
        return None

    def safe_default(self, observation: Any, agent: str) -> Any:
        """The action taken when a player gives no usable answer at all.

        By default the first (most conservative) valid action; environments override it where a
        better no-op exists and document it.
        """
        actions = self.valid_actions(observation, agent)
        if not actions:
            raise ActionParseError(f"{self.name}: no valid action for {agent} to default to")
        return actions[0].action

    def reply_tokens(self, agent: str) -> int:
        """The reply budget (tokens) a complete answer in ``agent``'s format needs, with room for
        its free-text parts: what an LLM player asks for unless told otherwise."""
        return DEFAULT_REPLY_TOKENS

    def stop_sequences(self, agent: str) -> tuple[str, ...]:
        """Strings that end a free-text reply (not part of it): where a model that goes on would
        start writing another turn or a second answer. Not used for structured (JSON) replies."""
        return ()

    def parse_reply(self, text: str, observation: Any, agent: str) -> Any:
        """`parse`, lenient where the meaning is clear: a reply whose first line is a valid answer
        followed by more lines parses as that first line, the rest kept as the action's
        explanation (`with_explanation`). Errors are those of the whole reply."""
        try:
            return self.parse(text, observation, agent)
        except ActionParseError as error:
            first, _, rest = text.strip().partition("\n")
            if not rest.strip():
                raise
            try:
                action = self.parse(first, observation, agent)
            except ActionParseError:
                raise error from None
            return self.with_explanation(action, " ".join(rest.split()), observation, agent)

    def with_explanation(self, action: Any, explanation: str, observation: Any, agent: str) -> Any:
        """``action`` with the explanation a lenient parse found after it kept as its message,
        where the action has an empty ``message`` field (cut to ``max_message_chars``); other
        actions are returned as they are."""
        if type(action) is dict and "message" in action and not action["message"]:
            return {**action, "message": explanation[: self.max_message_chars]}
        return action

    max_message_chars: int = 500
    """The longest message an explanation may become (envs that bound messages set theirs)."""

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any] | None:
        """The JSON Schema of a valid reply now (the action as JSON), or None when this protocol
        has no structured form.

        Backends enforce it at decoding time, so it must admit every valid action (`reply_json`
        of each `valid_actions` entry) and no out-of-bound value; `parse` reads a reply in this
        form as well as the command text of `instructions`. Build it with
        `envs.core.structured` (closed objects, enums, bounded numbers, bounded free text).
        """
        return None

    def reply_json(self, action: Any, observation: Any, agent: str) -> dict[str, Any]:
        """``action`` as the JSON reply (a dict matching `reply_schema`) that `parse` reads back
        as that action. Protocols with a `reply_schema` implement it."""
        raise NotImplementedError(f"{self.name}: has no structured reply form")

    def describe(self, action: Any, observation: Any, agent: str) -> str:
        """The reply text that `parse` reads back as ``action``: how a scripted player's decision
        is written as a model's answer (used to export scripted play as supervised fine-tuning
        data).

        Written in the answer format of `instructions` (or, where that cannot carry the action
        exactly, in the protocol's JSON reply form: `keyed_or_json`); an implementation documents
        any rounding, how it writes values the env ignores, and which actions no reply can
        express (it raises `ActionParseError` for those). Protocols without one raise
        NotImplementedError.
        """
        raise NotImplementedError(f"{self.name}: cannot write actions as text")


def keyed_or_json(
    protocol: TextProtocol, keyed: str, action: Any, observation: Any, agent: str
) -> str:
    """A `describe` reply for a protocol with a JSON form: ``keyed`` (the action in the command
    format of `instructions`) when `parse` reads it back as ``action``, else the action's JSON
    reply when that reads back so. "Reads back as" means the same `reply_json`: what a reply can
    say of an action (fields it cannot say are the protocol's to document). Raises
    `ActionParseError` when neither form reads back (say a one-line command that cannot hold a
    message's line breaks, with items the JSON form does not offer)."""
    wanted = protocol.reply_json(action, observation, agent)
    for text in (keyed, json.dumps(wanted, ensure_ascii=False)):
        try:
            parsed = protocol.parse(text, observation, agent)
        except ActionParseError:
            continue
        if protocol.reply_json(parsed, observation, agent) == wanted:
            return text
    raise ActionParseError(f"{protocol.name}: no reply of {agent} reads back as {wanted}")


def with_text(
    observation: dict[str, Any], protocol: TextProtocol, agent: str, enabled: bool, limit: int
) -> dict[str, Any]:
    """``observation`` with its ``text`` field: ``protocol``'s view of the structured fields cut
    to ``limit`` characters, or "" when text observations are off (``enabled`` false)."""
    observation["text"] = protocol.render(observation, agent)[:limit] if enabled else ""
    return observation


def action_mask_of(observation: Any, info: Mapping[str, Any] | None = None) -> Any:
    """The ``action_mask`` of a dict observation, else of ``info``, else None.

    The same precedence as PettingZoo's ``api_test`` and ``seed_test``: the observation's mask wins.
    """
    if isinstance(observation, Mapping) and "action_mask" in observation:
        return observation["action_mask"]
    if isinstance(info, Mapping):
        return info.get("action_mask")
    return None


def protocol_of(env: Any) -> TextProtocol:
    """The text protocol of an environment (its unwrapped class's ``protocol`` attribute)."""
    protocol = getattr(getattr(env, "unwrapped", env), "protocol", None)
    if not isinstance(protocol, TextProtocol):
        raise ValueError(f"{env}: has no text protocol (a `protocol` attribute on its class)")
    return protocol
