"""Agent names: ``<role>_<index>`` (``seller_0``), and the role they play."""

from __future__ import annotations


def role_of(agent: str) -> str:
    """The role part of an agent name: ``seller_0`` -> ``seller``; a name without a numeric
    suffix is its own role."""
    role, _, index = agent.rpartition("_")
    return role if role and index.isdigit() else agent
