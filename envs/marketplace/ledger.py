"""The marketplace ledger: proposals, payments and balances, with the rules the reference left open.

The reference platform checks only that a payment names an existing proposal sent by the payee.
Here every proposal and payment goes through `Ledger`, which rejects (raising `Rejected` with a
reason code from `REASONS` and a one-line detail) anything that breaks a rule:

* a proposal must list items on the business's menu, positive quantities, unit prices at or above
  the floor ``min_price_factor * list price``, a total equal to the sum of its lines, and a
  positive expiry;
* a payment must reference a known proposal addressed to the payer, still live (not expired), not
  paid before, for exactly its total, within the payer's remaining budget.

Identity is not a field anyone can forge: the env passes the acting agent's own index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from envs.marketplace.market import Market

# Why an action was rejected; index 0 means it was accepted. Order is part of the observation
# space (``status``): append, never reorder.
REASONS: tuple[str, ...] = (
    "ok",
    "busy",
    "not_allowed_for_role",
    "unknown_recipient",
    "empty_message",
    "bad_search",
    "empty_proposal",
    "bad_quantity",
    "off_menu",
    "below_floor",
    "wrong_total",
    "bad_expiry",
    "unknown_proposal",
    "not_addressed_to_payer",
    "already_paid",
    "expired",
    "wrong_amount",
    "over_budget",
)
REASON_CODES: dict[str, int] = {reason: code for code, reason in enumerate(REASONS)}

# Money compares to the cent: a total within half a cent of the sum of its lines is that sum.
CENT_TOLERANCE = 0.005


class Rejected(Exception):
    """An action the rules refuse: ``reason`` is a `REASONS` code name, ``detail`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Proposal:
    """An order proposal from a business to a customer. ``rank`` is its arrival rank among the
    proposals that customer received (0 = first)."""

    id: int
    business: int
    customer: int
    items: tuple[int, ...]
    quantities: tuple[int, ...]
    unit_prices: tuple[float, ...]
    total: float
    created: int
    expires: int
    rank: int
    paid: bool = False

    def covers(self, wanted: Sequence[int]) -> bool:
        """Whether the proposal includes every item in ``wanted``."""
        listed = self.items
        return all(item in listed for item in wanted)


@dataclass(frozen=True)
class Payment:
    """A settled payment: ``amount`` moved from the customer's budget to the business."""

    proposal: int
    customer: int
    business: int
    amount: float
    tick: int


class Ledger:
    """Every proposal and payment of one episode, the balances, and counts of rejections."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.proposals: list[Proposal] = []
        self.payments: list[Payment] = []
        self.budget_left = [c.budget for c in market.customers]
        self.revenue = [0.0] * len(market.businesses)
        self.received: list[list[int]] = [[] for _ in market.customers]
        self.rejections: Counter[str] = Counter()

    # Proposals ----------------------------------------------------------------------------------

    def propose(
        self,
        business: int,
        customer: int,
        lines: Sequence[tuple[int, int, float]],
        total: float,
        tick: int,
        expiry: int,
    ) -> Proposal:
        """Record a proposal of ``lines`` (item, quantity, unit price) or raise `Rejected`."""
        if not 0 <= customer < len(self.market.customers):
            raise Rejected("unknown_recipient", f"there is no customer_{customer}")
        if not lines:
            raise Rejected("empty_proposal", "a proposal needs at least one item line")
        shop = self.market.businesses[business]
        items = self.market.domain.items
        line_sum = 0.0
        for item, quantity, price in lines:
            if quantity < 1:
                raise Rejected("bad_quantity", f"quantity {quantity} of item {item} is below 1")
            if item not in shop.menu:
                name = items[item] if 0 <= item < len(items) else f"#{item}"
                raise Rejected("off_menu", f"{name!r} is not on {shop.name}'s menu")
            floor = shop.floor(item)
            if price < floor - 1e-9:
                raise Rejected(
                    "below_floor",
                    f"unit price {price:.2f} for {items[item]!r} is below the floor {floor:.2f}",
                )
            line_sum += quantity * price
        if abs(total - line_sum) > CENT_TOLERANCE:
            raise Rejected(
                "wrong_total", f"total {total:.2f} differs from the sum of lines {line_sum:.2f}"
            )
        if expiry < 1:
            raise Rejected("bad_expiry", f"expiry must be at least 1 tick, got {expiry}")
        proposal = Proposal(
            id=len(self.proposals),
            business=business,
            customer=customer,
            items=tuple(item for item, _, _ in lines),
            quantities=tuple(quantity for _, quantity, _ in lines),
            unit_prices=tuple(price for _, _, price in lines),
            total=round(line_sum, 2),
            created=tick,
            expires=tick + expiry,
            rank=len(self.received[customer]),
        )
        self.proposals.append(proposal)
        self.received[customer].append(proposal.id)
        return proposal

    # Payments -----------------------------------------------------------------------------------

    def pay(self, customer: int, proposal_id: int, amount: float, tick: int) -> Payment:
        """Settle proposal ``proposal_id`` for ``amount`` or raise `Rejected` with the first rule
        broken (checked in the order the module docstring lists)."""
        if not 0 <= proposal_id < len(self.proposals):
            raise Rejected("unknown_proposal", f"there is no proposal #{proposal_id}")
        proposal = self.proposals[proposal_id]
        if proposal.customer != customer:
            raise Rejected(
                "not_addressed_to_payer", f"proposal #{proposal_id} was made to someone else"
            )
        if proposal.paid:
            raise Rejected("already_paid", f"proposal #{proposal_id} is already paid")
        if tick > proposal.expires:
            raise Rejected("expired", f"proposal #{proposal_id} expired at tick {proposal.expires}")
        if abs(amount - proposal.total) > CENT_TOLERANCE:
            raise Rejected(
                "wrong_amount",
                f"amount {amount:.2f} differs from proposal #{proposal_id}'s total "
                f"{proposal.total:.2f}",
            )
        if proposal.total > self.budget_left[customer] + CENT_TOLERANCE:
            raise Rejected(
                "over_budget",
                f"total {proposal.total:.2f} exceeds the budget left "
                f"{self.budget_left[customer]:.2f}",
            )
        proposal.paid = True
        self.budget_left[customer] -= proposal.total
        self.revenue[proposal.business] += proposal.total
        payment = Payment(proposal_id, customer, proposal.business, proposal.total, tick)
        self.payments.append(payment)
        return payment

    def reject(self, reason: str) -> int:
        """Count a rejection and return its code for the agent's ``status`` observation."""
        self.rejections[reason] += 1
        return REASON_CODES[reason]

    def live_for(self, customer: int, tick: int) -> list[Proposal]:
        """The customer's proposals that can still be paid at ``tick``, in arrival order."""
        proposals = self.proposals
        return [
            proposals[i]
            for i in self.received[customer]
            if not proposals[i].paid and proposals[i].expires >= tick
        ]
