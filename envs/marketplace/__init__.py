"""The agentic marketplace after Magentic Marketplace: ``import envs.marketplace`` registers
``mercato/Marketplace-v0`` (`envs.marketplace.env`).

Modules: `market` (the data model), `domains` and `generator` (seeded markets and the study
designs), `manipulation` (description conditions), `baselines` (optimal, pick-cheapest, random),
`search` (simple, lexical, perfect, semantic), `ledger` (proposals, payments, rules), `world`
(the Mesa model on a networkx graph), `views` and `protocol` (what LLM players read and write),
`outcomes` (utility, welfare and metrics), `env` (the PettingZoo Parallel env, also made as AEC
through ``parallel_to_aec``).
"""

from envs.core.registry import register_env
from envs.core.spec import ViewSpec
from envs.marketplace.metrics import METRICS
from envs.marketplace.params import MarketParams

register_env(
    "Marketplace-v0",
    kind="parallel",
    aec_form=True,
    entry_point="envs.marketplace.env:parallel_env",
    family="marketplace",
    summary="Assistants buy for customers from businesses: search, proposals, payments (Magentic)",
    params=MarketParams,
    protocol="envs.marketplace.protocol:MarketplaceProtocol",
    metrics=METRICS,
    cost_per=("purchases", "purchase"),
    timeline="envs.marketplace.timeline:timeline",
    views=(
        ViewSpec(
            "Marketplace-Customer-v0",
            "customer_0",
            {"customer": "marketplace/careful", "business": "marketplace/honest"},
        ),
    ),
)
