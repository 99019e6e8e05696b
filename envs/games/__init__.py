"""Language-based economic games after GLEE (Shapira et al.): ``import envs.games`` registers them.

* ``mercato/Bargaining-v0`` (`envs.games.bargaining`): Rubinstein alternating offers.
* ``mercato/Negotiation-v0`` (`envs.games.negotiation`): bilateral trade with an outside option.
* ``mercato/Persuasion-v0`` (`envs.games.persuasion`): repeated cheap talk about quality.
"""

from envs.core.registry import register_env
from envs.games import bargaining, negotiation, persuasion

register_env(
    "Bargaining-v0",
    kind="aec",
    entry_point="envs.games.bargaining:env",
    family="games",
    summary="Alternating-offers bargaining over a sum of money with discounting (GLEE, Rubinstein)",
)
register_env(
    "Negotiation-v0",
    kind="aec",
    entry_point="envs.games.negotiation:env",
    family="games",
    summary="Alternating price offers between a seller and a buyer with an outside option (GLEE)",
)
register_env(
    "Persuasion-v0",
    kind="aec",
    entry_point="envs.games.persuasion:env",
    family="games",
    summary="Repeated cheap-talk persuasion: an informed seller recommends, a buyer buys (GLEE)",
)

__all__ = ["bargaining", "negotiation", "persuasion"]
