"""Scripted players (equilibrium and heuristic policies), one module per env family.

Importing this package registers them with `agents.registry` (``bargaining/equilibrium``, ...).
"""

from agents.scripted.bargaining import EquilibriumPlayer, EvenSplitPlayer, LinearConcessionPlayer

__all__ = ["EquilibriumPlayer", "EvenSplitPlayer", "LinearConcessionPlayer"]
