"""Scripted players (equilibrium and heuristic policies), one module per env family.

Importing this package registers them with `agents.registry` (``bargaining/equilibrium``,
``negotiation/anchoring``, ``persuasion/commitment``, ...).
"""

from agents.scripted import (
    bargaining,
    feed,
    marketplace,
    negotiation,
    persuasion,
    recdialogue,
    trials,
)

__all__ = [
    "bargaining", "feed", "marketplace", "negotiation", "persuasion", "recdialogue", "trials",
]  # fmt: skip
