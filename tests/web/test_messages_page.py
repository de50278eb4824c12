"""The managers' Messages page and the texts on a recipient's and a loan's pages, in a real
browser, checked with axe-core."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from lending.db import session_for
from lending.messages import service as messages
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from notifications import service as outbox
from notifications.callbacks import Inbound
from notifications.models import Message
from tests.lending.test_loans_helpers import NEEDY, POLICY
from tests.web.conftest import sign_in
from tests.web.test_accessibility import check

pytestmark = pytest.mark.browser


def test_a_manager_sees_an_unread_reply_and_marks_it_read(page: Page, engine, office,
                                                          manager_user):
    with session_for(engine, actor="test") as session:
        person = create_recipient(session, RecipientCreate(
            name="Robin Replier", location="LDN", mobile="07911 123456", facts=NEEDY), POLICY)
        person_id, number = person.id, person.mobile
        wrong = create_recipient(session, RecipientCreate(
            name="Wendy Wrongnumber", location="LDN", mobile="07911 123458", facts=NEEDY),
            POLICY)
        quiet = create_recipient(session, RecipientCreate(
            name="Quinn Quiet", location="LDN", mobile="07911 123459", facts=NEEDY), POLICY)
        outbox.queue_message(session, key="test:refused", to=wrong.mobile, language="en",
                             kind="due_soon", body="Hi Wendy", recipient_id=wrong.id)
        session.execute(update(Message).where(Message.key == "test:refused").values(
            status="failed", error_code="invalid_number"))
        session.commit()
        quiet_number = quiet.mobile
    assert messages.receive_reply(engine, Inbound(
        provider="notify", provider_id="in-0", from_number=quiet_number, body="STOP",
        received_at=datetime.now(UTC))) == "stop"
    assert messages.receive_reply(engine, Inbound(
        provider="notify", provider_id="in-1", from_number=number,
        body="Can I keep it till Friday?", received_at=datetime.now(UTC))) == "other"

    sign_in(page, manager_user, path="/login?next=/messages")
    expect(page.get_by_role("heading", name="Messages", level=1)).to_be_visible()
    expect(page.locator("nav").get_by_role("link", name="Messages")).to_have_attribute(
        "aria-current", "page")
    reply = page.locator(".govuk-summary-card", has_text="Robin Replier")
    expect(reply).to_contain_text("Can I keep it till Friday?")
    expect(page.get_by_role("heading", name="Unread replies (1)")).to_be_visible()
    check(page, "messages, a reply unread")
    fix = page.get_by_role("table", name="Numbers the text service refused")
    expect(fix).to_contain_text("Wendy Wrongnumber")
    expect(fix).to_contain_text("Invalid number")
    expect(page.get_by_role("table", name="Recipients who replied STOP")).to_contain_text(
        "Quinn Quiet")

    reply.get_by_role("button", name="Mark as read").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("1 reply marked as read")
    expect(page.locator("main")).to_contain_text("No unread replies.")
    expect(page.locator("main")).not_to_contain_text("Can I keep it till Friday?")
    check(page, "messages, nothing unread")

    # The recipient's page keeps the reply, marked read.
    page.goto(f"/recipients/{person_id}")
    replies = page.get_by_role("table", name="Their replies")
    expect(replies).to_contain_text("Can I keep it till Friday?")
    expect(replies).to_contain_text("Read")
    check(page, "a recipient with a reply")


def test_a_loans_and_a_recipients_texts_show_what_and_when_never_the_wording(
        page: Page, engine, office, staff_user, settings):
    from lending.loans.schemas import LoanCreate
    from lending.loans.service import issue_loan
    from tests.lending.test_loans_helpers import LONDON
    from tests.web.conftest import add_device

    tag = add_device(engine)
    with session_for(engine, actor="test") as session:
        person = create_recipient(session, RecipientCreate(
            name="Terry Texted", location="LDN", mobile="07911 123457", facts=NEEDY), POLICY)
        loan = issue_loan(session, LoanCreate(asset_tag=tag, recipient_id=person.id),
                          POLICY, LONDON)[0]
        person_id, loan_id = person.id, loan.id
    # Written with the loan: the sweep finds it there.
    assert messages.sweep(engine, messages.Timing.of(settings)).total == 0

    sign_in(page, staff_user, path=f"/login?next=/loans/{loan_id}")
    texts = page.get_by_role("table", name="Texts about this loan")
    expect(texts).to_contain_text("Receipt")
    expect(texts).to_contain_text("Waiting to send")
    expect(page.locator("main")).not_to_contain_text("Hi Terry")  # the wording is not shown
    check(page, "a loan with a text")
    page.goto(f"/recipients/{person_id}")
    expect(page.get_by_role("table", name="Texts to them")).to_contain_text("Receipt")
    check(page, "a recipient with a text")
