"""The demo holds loans in every state, a refusal, an override and a waitlist request."""

from datetime import datetime

from lending.db import session_for
from lending.demo import load_demo
from lending.loans.service import list_loans
from lending.vouchers.service import voucher_stock
from lending.waitlist.service import list_requests
from tests.lending.test_loans_helpers import LONDON


def test_the_demo_has_loans_in_every_state(engine):
    counts = load_demo(engine)
    assert counts["recipients"] == 12
    today = datetime.now(LONDON).date()
    with session_for(engine) as session:
        for status in ("active", "overdue", "returned", "lost"):
            assert list_loans(session, today, status=status)["total"] >= 1, status
        assert list_requests(session)["total"] == 1


def test_the_demo_holds_data_vouchers_sealed_with_the_secret(engine):
    counts = load_demo(engine, secret="demo-secret")
    assert counts["data vouchers"] == 12
    with session_for(engine) as session:
        stock = voucher_stock(session, location="CDF")
    assert stock["total"]["available"] == 4
    assert {network["network"] for network in stock["networks"]} == {"Vodafone", "EE", "Three"}
