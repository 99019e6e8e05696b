"""The ledger's rules: each broken rule is rejected with its own reason, and money moves right."""

from __future__ import annotations

import pytest

from envs.marketplace.ledger import REASON_CODES, REASONS, Ledger, Rejected
from tests.envs.marketplace.tiny import tiny_market


@pytest.fixture
def ledger() -> Ledger:
    return Ledger(tiny_market())


def reason_of(call) -> str:
    with pytest.raises(Rejected) as caught:
        call()
    return caught.value.reason


def test_a_valid_proposal_is_recorded_with_its_arrival_rank(ledger):
    first = ledger.propose(1, 0, [(0, 1, 3.5), (2, 1, 1.5)], 5.0, tick=3, expiry=4)
    second = ledger.propose(0, 0, [(0, 1, 4.5), (2, 1, 2.5)], 7.0, tick=4, expiry=4)
    assert (first.id, first.rank, first.expires, first.total) == (0, 0, 7, 5.0)
    assert (second.id, second.rank) == (1, 1)
    assert first.covers((0, 2)) and not first.covers((1,))


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((1, 7, [(0, 1, 3.5)], 3.5, 0, 5), "unknown_recipient"),
        ((1, 0, [], 0.0, 0, 5), "empty_proposal"),
        ((1, 0, [(0, 0, 3.5)], 0.0, 0, 5), "bad_quantity"),
        ((1, 0, [(1, 1, 6.0)], 6.0, 0, 5), "off_menu"),
        ((1, 0, [(0, 1, 1.0)], 1.0, 0, 5), "below_floor"),  # floor 0.5 x 3.5 = 1.75
        ((1, 0, [(0, 2, 3.5)], 3.5, 0, 5), "wrong_total"),
        ((1, 0, [(0, 1, 3.5)], 3.5, 0, 0), "bad_expiry"),
    ],
)
def test_bad_proposals_are_rejected_with_their_reason(ledger, args, reason):
    assert reason_of(lambda: ledger.propose(*args)) == reason
    assert ledger.proposals == []


def test_negotiated_prices_down_to_the_floor_are_accepted(ledger):
    proposal = ledger.propose(1, 0, [(0, 1, 1.75)], 1.75, tick=0, expiry=5)
    assert proposal.total == 1.75


def test_payment_rules_each_have_their_reason(ledger):
    offer = ledger.propose(1, 0, [(0, 1, 3.5), (2, 1, 1.5)], 5.0, tick=0, expiry=2)
    assert reason_of(lambda: ledger.pay(0, 99, 5.0, tick=1)) == "unknown_proposal"
    assert reason_of(lambda: ledger.pay(1, offer.id, 5.0, tick=1)) == "not_addressed_to_payer"
    assert reason_of(lambda: ledger.pay(0, offer.id, 4.0, tick=1)) == "wrong_amount"
    assert reason_of(lambda: ledger.pay(0, offer.id, 5.0, tick=3)) == "expired"
    payment = ledger.pay(0, offer.id, 5.0, tick=2)  # the expiry tick itself is still live
    assert (payment.amount, payment.business) == (5.0, 1)
    assert reason_of(lambda: ledger.pay(0, offer.id, 5.0, tick=2)) == "already_paid"
    assert ledger.budget_left[0] == pytest.approx(13.0)
    assert ledger.revenue == [0.0, 5.0, 0.0]


def test_budgets_are_respected(ledger):
    big = ledger.propose(0, 1, [(1, 3, 6.5)], 19.5, tick=0, expiry=5)
    assert reason_of(lambda: ledger.pay(1, big.id, 19.5, tick=1)) == "over_budget"
    assert ledger.payments == [] and ledger.budget_left[1] == 18.0


def test_live_proposals_exclude_paid_and_expired_ones(ledger):
    a = ledger.propose(1, 0, [(0, 1, 3.5)], 3.5, tick=0, expiry=1)
    b = ledger.propose(0, 0, [(0, 1, 4.5)], 4.5, tick=0, expiry=9)
    c = ledger.propose(2, 0, [(0, 1, 3.0)], 3.0, tick=0, expiry=9)
    ledger.pay(0, c.id, 3.0, tick=1)
    assert [p.id for p in ledger.live_for(0, tick=1)] == [a.id, b.id]
    assert [p.id for p in ledger.live_for(0, tick=2)] == [b.id]


def test_reason_codes_are_stable_and_start_with_ok():
    assert REASONS[0] == "ok"
    assert all(REASON_CODES[name] == code for code, name in enumerate(REASONS))
