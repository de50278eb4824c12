"""Giving data from a recipient's page, in a real browser: by text, then on a slip shown once."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from lending.db import session_for
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from lending.vouchers.service import code_box, import_vouchers
from tests.lending.test_loans_helpers import NEEDY, POLICY
from tests.web.conftest import sign_in

pytestmark = pytest.mark.browser


def test_data_is_given_by_text_and_then_on_a_slip(page: Page, engine, office, settings,
                                                   staff_user):
    expires = (date.today() + timedelta(days=30)).isoformat()
    with session_for(engine, actor="test") as session:
        import_vouchers(session, "location,network,code,data_gb,expires_on\n"
                        f"LDN,EE,PAGE00001,20,{expires}\nLDN,EE,PAGE00002,20,{expires}\n",
                        code_box(settings.secret_key),
                        date.today())
        texted = create_recipient(session, RecipientCreate(
            name="Sam Texted", location="LDN", mobile="07911123456", facts=NEEDY), POLICY).id
        slipped = create_recipient(session, RecipientCreate(
            name="Jo Slip", location="LDN", facts=NEEDY), POLICY).id
    sign_in(page, staff_user)
    page.goto(f"/recipients/{texted}")
    page.get_by_role("link", name="Give data").click()
    expect(page.get_by_role("heading", name="Give data")).to_be_visible()
    page.get_by_role("button", name="Give data").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("on its way by text")
    expect(page.locator("#vouchers-title + table")).to_contain_text("EE")
    expect(page.locator("body")).not_to_contain_text("PAGE0000")

    page.goto(f"/recipients/{slipped}/data")
    page.get_by_role("button", name="Give data").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("printed slip")
    page.get_by_label("No working phone").check()
    page.get_by_role("button", name="Give data").click()
    expect(page.locator(".app-voucher-code")).to_have_text("PAGE00002")
    page.goto(f"/recipients/{slipped}")
    expect(page.locator("body")).not_to_contain_text("PAGE0000")
    expect(page.locator("#vouchers-title + table")).to_contain_text("printed slip")
