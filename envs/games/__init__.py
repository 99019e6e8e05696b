"""Language-based economic games after GLEE (Shapira et al.): ``import envs.games`` registers them.

* ``mercato/Bargaining-v0`` (`envs.games.bargaining`): Rubinstein alternating offers.
"""

from envs.core.registry import register_env
from envs.games import bargaining

register_env(
    "Bargaining-v0",
    kind="aec",
    entry_point="envs.games.bargaining:env",
    family="games",
    summary="Alternating-offers bargaining over a sum of money with discounting (GLEE, Rubinstein)",
)

__all__ = ["bargaining"]
