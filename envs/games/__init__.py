"""Language-based economic games after GLEE (Shapira et al.): ``import envs.games`` registers them.

* ``mercato/Bargaining-v0`` (`envs.games.bargaining`): Rubinstein alternating offers.
* ``mercato/Negotiation-v0`` (`envs.games.negotiation`): bilateral trade with an outside option.
* ``mercato/Persuasion-v0`` (`envs.games.persuasion`): repeated cheap talk about quality.
"""

from envs.core.registry import register_env
from envs.core.spec import ViewSpec
from envs.games import bargaining, negotiation, persuasion
from envs.games.metrics import BARGAINING_METRICS, NEGOTIATION_METRICS, PERSUASION_METRICS
from envs.games.params import BargainingParams, NegotiationParams, PersuasionParams

GLEE_IMPORTER = {"glee": "envs.games.glee_format:read_games"}
"""GLEE's released game logs (docs/glee-import.md): one reader for all three games."""

register_env(
    "Bargaining-v0",
    kind="aec",
    entry_point="envs.games.bargaining:env",
    family="games",
    summary="Alternating-offers bargaining over a sum of money with discounting (GLEE, Rubinstein)",
    params=BargainingParams,
    protocol="envs.games.bargaining_protocol:BargainingProtocol",
    metrics=BARGAINING_METRICS,
    importers=GLEE_IMPORTER,
    views=(
        ViewSpec("Bargaining-Alice-v0", "alice_0", {"bob": "bargaining/equilibrium"}),
        ViewSpec("Bargaining-Bob-v0", "bob_0", {"alice": "bargaining/equilibrium"}),
    ),
)
register_env(
    "Negotiation-v0",
    kind="aec",
    entry_point="envs.games.negotiation:env",
    family="games",
    summary="Alternating price offers between a seller and a buyer with an outside option (GLEE)",
    params=NegotiationParams,
    protocol="envs.games.negotiation_protocol:NegotiationProtocol",
    metrics=NEGOTIATION_METRICS,
    importers=GLEE_IMPORTER,
    views=(
        ViewSpec("Negotiation-Seller-v0", "seller_0", {"buyer": "negotiation/anchoring"}),
        ViewSpec("Negotiation-Buyer-v0", "buyer_0", {"seller": "negotiation/anchoring"}),
    ),
)
register_env(
    "Persuasion-v0",
    kind="aec",
    entry_point="envs.games.persuasion:env",
    family="games",
    summary="Repeated cheap-talk persuasion: an informed seller recommends, a buyer buys (GLEE)",
    params=PersuasionParams,
    protocol="envs.games.persuasion_protocol:PersuasionProtocol",
    metrics=PERSUASION_METRICS,
    importers=GLEE_IMPORTER,
    views=(
        ViewSpec("Persuasion-Seller-v0", "seller_0", {"buyer": "persuasion/bayesian"}),
        ViewSpec("Persuasion-Buyer-v0", "buyer_0", {"seller": "persuasion/truthful"}),
    ),
)

__all__ = ["bargaining", "negotiation", "persuasion"]
