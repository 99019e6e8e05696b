"""What each game's final ``info["metrics"]`` holds: metric name -> one line of meaning.

Registration passes these to `EnvSpec.metrics` (`envs.games.__init__`). The values are computed
by each game's ``*_rules.episode_metrics`` (the paper's definitions, games.md §4); undefined ones
are None. Shares and gains are fractions of the money M unless a line says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

BARGAINING_METRICS: Mapping[str, str] = {
    "deal": "1 if an offer was accepted, else 0",
    "round": "the round (1-based) of the agreement, else the last round played",
    "alice_share": "p: Alice's share in the accepted offer, 0..1; None without a deal",
    "self_gain_alice": "Alice's discounted share δ_A^(t-1)·p, 0..1; 0 without a deal",
    "self_gain_bob": "Bob's discounted share δ_B^(t-1)·(1-p), 0..1; 0 without a deal",
    "efficiency": "self_gain_alice + self_gain_bob, 0..1; 0 without a deal",
    "fairness": "1 - 4(p - 1/2)², 0..1 (1 at an even split); 1 without a deal",
    "spe_alice_share": (
        "Alice's subgame-perfect round-1 share: backward induction if the horizon is announced, "
        "else (1-δ_B)/(1-δ_A·δ_B); None if unannounced with δ_A = δ_B = 1"
    ),
    "regret_alice_share": "|alice_share - spe_alice_share|, 0..1; None when either is None",
}
"""`mercato/Bargaining-v0` (`envs.games.bargaining_rules.episode_metrics`); t is the agreement
round, δ_A and δ_B the players' discount factors."""

NEGOTIATION_METRICS: Mapping[str, str] = {
    "trade": "1 if an offer was accepted, else 0",
    "outside_option": "1 if a player took the outside option (then no trade), else 0",
    "round": "the last round played (1-based)",
    "price": "p: the traded price in money units; None without a trade",
    "self_gain_seller": "the seller's gain (p - V_A)/M; 0 without a trade",
    "self_gain_buyer": "the buyer's gain (V_B - p)/M; 0 without a trade",
    "efficiency": (
        "1 if no trade with V_A >= V_B, or a trade at V_A <= p <= V_B (float64 slack); else 0"
    ),
    "fairness": "1 - 4((p - (V_A + V_B)/2)/M)², at most 1; 1 without a trade",
    "spe_price": (
        "subgame-perfect price in money units, V_B for odd horizon T, V_A for even; None unless "
        "V_B > V_A with complete information and an announced horizon"
    ),
    "regret_price": "|price - spe_price|/M; None when either is None",
}
"""`mercato/Negotiation-v0` (`envs.games.negotiation_rules.episode_metrics`); V_A and V_B are
the seller's and buyer's values of the good."""

PERSUASION_METRICS: Mapping[str, str] = {
    "sales": "items bought over the T rounds played",
    "high_rounds": "n: rounds whose product was high quality",
    "sale_rate": "sales / T, 0..1",
    "self_gain_seller": "the seller's gain per round, sales / T (1 per sale, in units of M)",
    "self_gain_buyer": (
        "the buyer's gain per round [k(v-1) + (T-n-r)(c-1)]/T in units of M (k high-quality "
        "items bought, r low-quality items not bought)"
    ),
    "efficiency": "k/n: share of high-quality items bought, 0..1; None when n = 0",
    "fairness": "r/(T-n): share of low-quality items not bought, 0..1; None when n = T",
    "commitment_sale_rate": (
        "the committed seller's P(sale) min(1, p(v-c)/(1-c)) (Kamenica-Gentzkow), 0..1"
    ),
    "regret_sale_rate": "|sale_rate - commitment_sale_rate|, 0..1",
}
"""`mercato/Persuasion-v0` (`envs.games.persuasion_rules.episode_metrics`); p is `p_high`, v and c
the buyer's values of a high- and a low-quality item per unit of price."""
