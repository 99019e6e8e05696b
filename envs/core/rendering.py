"""Rendering and global state, the same way in every mercato env.

``render_mode="ansi"`` returns, and ``"human"`` prints, a one-line summary of the state followed
by the text protocol's view of the current observation of each agent that decides now: what an
LLM or human player would read. ``None`` renders nothing; any other mode fails at construction.

`ObservedState` gives turn-taking envs whose agents between them see the whole game PettingZoo's
``state()`` and ``state_space``: every agent's current observation, keyed by agent. Envs without
such a state say why in `NoGlobalState`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from gymnasium.spaces import Dict, Space

from envs.core.protocol import TextProtocol

RENDER_MODES: tuple[str, ...] = ("ansi", "human")
"""The render modes every mercato env and view declares in ``metadata["render_modes"]``."""


def check_render_mode(render_mode: Any) -> str | None:
    """``render_mode`` when it is None or one of `RENDER_MODES`; else a ValueError naming them."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        allowed = ", ".join(repr(mode) for mode in RENDER_MODES)
        raise ValueError(f"render_mode must be None, {allowed}; got {render_mode!r}")
    return render_mode


def render_text(summary: str, protocol: TextProtocol, observations: Mapping[str, Any]) -> str:
    """``summary``, then each agent's observation as ``protocol`` renders it, under its name."""
    sections = [summary]
    sections += [
        f"--- {agent} ---\n{protocol.render(obs, agent)}" for agent, obs in observations.items()
    ]
    return "\n\n".join(sections)


def show(render_mode: str | None, text: str) -> str | None:
    """What ``render()`` returns in ``render_mode``: the text (``ansi``), or None after printing it
    (``human``) or without a mode."""
    if render_mode == "human":
        print(text)
        return None
    return text if render_mode == "ansi" else None


def acting_observation(env: Any) -> dict[str, Any]:
    """An AEC env's agent to act now and its observation (empty when nobody acts)."""
    agent = getattr(env, "agent_selection", None)
    if agent not in env.agents or env.terminations[agent] or env.truncations[agent]:
        return {}
    return {agent: env.observe(agent)}


class ObservedState:
    """PettingZoo's global state for an AEC env whose agents together observe the game:
    ``state()`` is every possible agent's current observation, keyed by agent, plus what
    `_unobserved_spaces` declares that no agent sees (the trial's true utilities);
    ``state_space`` is the Dict of their spaces (built once)."""

    possible_agents: list[str]

    @functools.cached_property
    def state_space(self) -> Dict:
        spaces = {agent: self.observation_space(agent) for agent in self.possible_agents}  # type: ignore[attr-defined]
        return Dict({**spaces, **self._unobserved_spaces()})

    def state(self) -> dict[str, Any]:
        observations = {agent: self.observe(agent) for agent in self.possible_agents}  # type: ignore[attr-defined]
        return {**observations, **self._unobserved_state()}

    def _unobserved_spaces(self) -> dict[str, Space[Any]]:
        """Spaces of the state's parts that no agent observes (none by default)."""
        return {}

    def _unobserved_state(self) -> dict[str, Any]:
        """The values of `_unobserved_spaces` now."""
        return {}


class NoGlobalState(NotImplementedError):
    """``state()`` of an env that has no global state in a fixed space; the message says why."""
