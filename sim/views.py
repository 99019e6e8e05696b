"""Gymnasium ids of the single-agent views: ``mercato/<Env>-<Role>-v0``, registered on
``import sim`` (any ``sim`` module).

Each id makes one role of a mercato env the learner and seats registered policies in the other
roles (`sim.single_agent.SingleAgentEnv`). The views live in ``sim``, not ``envs``, because they
seat ``agents`` policies: ``envs`` never names the layers above it. Registration names the entry
point as a string, so registering imports only Gymnasium; ``gymnasium.make`` imports the engine
when a view is made. Override
the opponents or the env's parameters at make time: ``gymnasium.make(id, opponents={...},
params={...})`` or env parameters as keyword arguments.
"""

from __future__ import annotations

from typing import Any

import gymnasium

# name, env id, learner, default opponents (by role), default params
VIEWS: tuple[tuple[str, str, str, dict[str, Any], dict[str, Any]], ...] = (
    ("Bargaining-Alice-v0", "mercato/Bargaining-v0", "alice_0",
     {"bob": "bargaining/equilibrium"}, {}),
    ("Bargaining-Bob-v0", "mercato/Bargaining-v0", "bob_0",
     {"alice": "bargaining/equilibrium"}, {}),
    ("Negotiation-Seller-v0", "mercato/Negotiation-v0", "seller_0",
     {"buyer": "negotiation/anchoring"}, {}),
    ("Negotiation-Buyer-v0", "mercato/Negotiation-v0", "buyer_0",
     {"seller": "negotiation/anchoring"}, {}),
    ("Persuasion-Seller-v0", "mercato/Persuasion-v0", "seller_0",
     {"buyer": "persuasion/bayesian"}, {}),
    ("Persuasion-Buyer-v0", "mercato/Persuasion-v0", "buyer_0",
     {"seller": "persuasion/truthful"}, {}),
    ("Marketplace-Customer-v0", "mercato/Marketplace-v0", "customer_0",
     {"customer": "marketplace/careful", "business": "marketplace/honest"}, {}),
    ("ManipulationTrial-Assistant-v0", "mercato/ManipulationTrial-v0", "assistant_0",
     {"user": "trials/parametric", "principal": "trials/principal"},
     {"assistant_type": "MA"}),
    ("RecDialogue-Recommender-v0", "mercato/RecDialogue-v0", "recommender_0",
     {"user": "dialogue/agenda"}, {"n_items": 1000}),
    ("RecFeed-Recommender-v0", "mercato/RecFeed-v0", "recommender_0",
     {"user": "feed/user"}, {}),
)  # fmt: skip


def register_views() -> None:
    """Register every ``mercato/<Env>-<Role>-v0`` with Gymnasium (idempotent)."""
    for name, env_id, learner, opponents, params in VIEWS:
        view_id = f"mercato/{name}"
        if view_id in gymnasium.registry:
            continue
        gymnasium.register(
            view_id,
            entry_point="sim.single_agent:make_view",
            kwargs={"env_id": env_id, "learner": learner, "opponents": opponents, "params": params},
        )
