"""A request for more time by text, seen on the desk and granted in one click on the loan
page, in a real browser, checked with axe-core."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lending.db import session_for
from lending.loans.models import Loan
from lending.messages import service as messages
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from notifications.callbacks import Inbound
from notifications.models import Message
from tests.lending.test_loans_helpers import LONDON, NEEDY, POLICY
from tests.web.conftest import add_device, sign_in
from tests.web.test_accessibility import check

pytestmark = pytest.mark.browser


def test_one_click_renews_a_loan_asked_for_by_text_and_texts_the_new_date(
        page: Page, engine, office, staff_user, settings):
    from lending.loans.schemas import LoanCreate
    from lending.loans.service import issue_loan

    tag = add_device(engine)
    with session_for(engine, actor="test") as session:
        person = create_recipient(session, RecipientCreate(
            name="Morgan Moretime", location="LDN", mobile="07911 123460", facts=NEEDY),
            POLICY)
        loan = issue_loan(session, LoanCreate(asset_tag=tag, recipient_id=person.id),
                          POLICY, LONDON)[0]
        loan_id, number, due_on = loan.id, person.mobile, loan.due_on
    assert messages.receive_reply(engine, Inbound(
        provider="twilio", provider_id="SM-more-1", from_number=number, body="MORE.",
        received_at=datetime.now(UTC)),
        POLICY, messages.Timing.of(settings)) == "more"

    sign_in(page, staff_user)
    expect(page.get_by_role("link", name="1 asked for more time by text")).to_be_visible()
    page.get_by_role("link", name="1 asked for more time by text").click()
    page.get_by_role("link", name=f"#{loan_id}").or_(page.get_by_role("link", name=tag)) \
        .first.wait_for()
    page.goto(f"/loans/{loan_id}")
    expect(page.locator("main .govuk-tag", has_text="Asked for more time")).to_be_visible()
    check(page, "a loan asked for more time by text")
    page.get_by_role("button", name="Renew as they asked").click()
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text("Renewed as they asked")
    expect(banner).to_contain_text("They will get a text with the new date")
    expect(page.get_by_role("button", name="Renew as they asked")).to_have_count(0)
    expect(page.get_by_role("table", name="Texts about this loan")).to_contain_text(
        "More time given")
    check(page, "a loan renewed as asked")
    with session_for(engine, read_only=True) as session:
        renewed = session.get(Loan, loan_id)
        assert renewed.renewals == 1 and renewed.due_on > due_on
        assert renewed.more_time_requested_at is None
        texts = session.scalars(select(Message).where(Message.loan_id == loan_id,
                                                      Message.kind == "more_time")).all()
    assert len(texts) == 1 and texts[0].to == number
