"""Scripted players (equilibrium and heuristic policies), one module per env family.

Importing this package registers them with `agents.registry` (``bargaining/equilibrium``,
``negotiation/anchoring``, ``persuasion/commitment``, ...).
"""

from agents.scripted import bargaining, marketplace, negotiation, persuasion, trials

__all__ = ["bargaining", "marketplace", "negotiation", "persuasion", "trials"]
