"""Agent names: ``<role>_<index>`` (``seller_0``), and the role they play."""

from __future__ import annotations

from collections.abc import Sequence


def role_of(agent: str) -> str:
    """The role part of an agent name: ``seller_0`` -> ``seller``; a name without a numeric
    suffix is its own role."""
    role, _, index = agent.rpartition("_")
    return role if role and index.isdigit() else agent


def agent_named(agents: Sequence[str], name: str) -> str | None:
    """The agent ``name`` names among ``agents``: itself when it is an agent, else the first
    agent of the role ``name``; None when it is neither."""
    if name in agents:
        return name
    return next((agent for agent in agents if role_of(agent) == name), None)
