"""What the marketplace's final ``info["metrics"]`` holds: metric name -> one line of meaning.

Registration passes this to `EnvSpec.metrics` (`envs.marketplace.__init__`). The values come
from `envs.marketplace.outcomes.market_metrics`, one dict per day; with `days` > 1
`outcomes.merge_days` merges them (counts and amounts add up, rates and indices are averaged over
the days that define them, ``ticks`` is the clock at the end) and each day's welfare is added as
``welfare_day_<d>``. Amounts are in the market's money units (V: a customer's value for its
order, P: all it paid); undefined values are None.
"""

from __future__ import annotations

from collections.abc import Mapping

METRICS: Mapping[str, str] = {
    "welfare": "sum over customers of U = 2V - P if a paid proposal satisfies the order, else -P",
    "optimal_welfare": "welfare if each customer bought at its cheapest feasible business",
    "welfare_ratio": "welfare / optimal_welfare; None when that is <= 0 (with days > 1: == 0)",
    "purchases": "payments made",
    "purchase_completion": "share of customers who paid at least once, 0..1",
    "satisfied_rate": "share of customers with a paid proposal that satisfies their order, 0..1",
    "proposals": "order proposals businesses made",
    "proposal_errors": "proposals the ledger rejected (empty, bad quantity, off menu, ...)",
    "payment_errors": "payments the ledger rejected (unknown proposal, wrong amount, ...)",
    "rejected_actions": "actions rejected for any reason (busy agents included)",
    "first_proposal_rate": (
        "share of paying customers whose first payment went to the first proposal they "
        "received, 0..1; None without payments"
    ),
    "mean_paid_rank": (
        "mean arrival rank (0 = first) of each paying customer's first paid proposal; None "
        "without payments"
    ),
    "manipulator_payments": "payments to the manipulating business; None without one",
    "manipulator_revenue": "amount paid to the manipulating business; None without one",
    "manipulator_share": (
        "manipulator_payments / purchases, 0..1; None without a manipulator or payments"
    ),
    "price_dispersion": (
        "mean coefficient of variation of unit prices over items proposed at least twice; None "
        "without such items"
    ),
    "hhi": "Herfindahl-Hirschman index of business revenue shares, 0..1; None when nothing sold",
    "revenue": "amount paid to all businesses",
    "ticks": "the simulated clock at the end, in ticks over all days",
    "days": "market days played",
    "reviews": "reviews customers wrote, one per payment",
    "welfare_day_<d>": "welfare of day <d> (0 .. days-1); only when days > 1",
}
"""`mercato/Marketplace-v0`; ``welfare_day_<d>`` is a pattern: one key per day."""
