"""Correcting records, accounts and the lending flow by keyboard, in a real browser."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import add_user
from tests.web.conftest import PASSWORD, add_device, sign_in
from tests.web.test_accessibility import add_recipient, check

pytestmark = pytest.mark.browser

BANNER = ".govuk-notification-banner"


def test_a_recipients_answers_are_corrected_and_a_restriction_needs_a_manager(
        page: Page, engine, office, staff_user, manager_user):
    sign_in(page, staff_user)
    recipient_id = add_recipient(page)
    expect(page.locator("main")).to_contain_text("Not asked yet")
    page.get_by_role("link", name="Change their details or answers").click()
    page.get_by_label("Mobile number").fill("07911 123456")
    page.get_by_role("group", name="Do they have a suitable laptop").get_by_label(
        "No", exact=True).check()
    page.get_by_role("group", name="licence condition limit devices").get_by_label(
        "No internet-enabled devices", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(BANNER)).to_contain_text("Saved the changes")
    expect(page.locator("main")).to_contain_text("07911 123456")
    expect(page.locator("main")).to_contain_text("No internet-enabled devices")

    # Staff cannot clear it: the service refuses, the page says so beside the reason.
    page.goto(f"/recipients/{recipient_id}/edit")
    page.get_by_role("group", name="licence condition limit devices").get_by_label(
        "No licence condition about devices", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-reason-error")).to_contain_text("manager")
    assert page.title().startswith("Error: ")

    page.context.clear_cookies()
    sign_in(page, manager_user, path=f"/login?next=/recipients/{recipient_id}/edit")
    page.get_by_role("group", name="licence condition limit devices").get_by_label(
        "No licence condition about devices", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-reason-error")).to_contain_text("reason")
    page.get_by_label("Reason for clearing").fill("Licence condition varied by the court")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(BANNER)).to_contain_text("Saved the changes")
    expect(page.locator("main")).to_contain_text("No restriction recorded")


def test_a_devices_details_and_data_plan_are_corrected(page: Page, engine, office,
                                                        staff_user):
    tag = add_device(engine, kind="sim", make="EE", model="Data SIM")
    sign_in(page, staff_user, path=f"/login?next=/d/{tag}")
    page.get_by_role("link", name="Change data plan").click()
    page.get_by_label("Data allowance (GB)").fill("30")
    page.locator("#f-plan-ends-on-day").fill("31")
    page.locator("#f-plan-ends-on-month").fill("12")
    page.locator("#f-plan-ends-on-year").fill("2030")
    page.get_by_label("Network").fill("EE")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(BANNER)).to_contain_text(f"Saved the changes to {tag}")
    expect(page.locator("main")).to_contain_text("30.0 GB until Tue 31 Dec 2030")

    page.goto(f"/d/{tag}/edit")
    page.get_by_label("Make").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-make-error")).to_contain_text("Enter the make")


def test_a_user_changes_their_password(page: Page, staff_user):
    sign_in(page, staff_user)
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill("wrong password here")
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#f-current-password-error")).to_contain_text("not right")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(BANNER)).to_contain_text("Your password has been changed")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, staff_user, "a brand new passphrase")
    expect(page).to_have_url(re.compile(r"/$"))


def test_a_new_password_keeps_this_browser_in_and_signs_the_others_out(
        page: Page, browser, server, staff_user):
    elsewhere = browser.new_context(base_url=server.url)
    other = elsewhere.new_page()
    try:
        sign_in(other, staff_user)  # the same person, in another browser
        expect(other).to_have_url(re.compile(r"/$"))
        sign_in(page, staff_user)
        page.get_by_role("link", name="Change password").click()
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill("a brand new passphrase")
        page.get_by_label("New password again").fill("a brand new passphrase")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator(BANNER)).to_contain_text("Your password has been changed")
        # This browser is still signed in, page after page.
        page.goto("/loans")
        expect(page).to_have_url(re.compile(r"/loans$"))
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        # The other browser is signed out: its next page asks for a login.
        other.goto("/loans")
        expect(other).to_have_url(re.compile(r"/login\?next=(/|%2F)loans$"))
        sign_in(other, staff_user, "a brand new passphrase", path=other.url)
        expect(other).to_have_url(re.compile(r"/loans$"))
    finally:
        elsewhere.close()


def test_an_admin_adds_a_user_changes_their_role_and_gives_them_a_token(page: Page, engine,
                                                                       office):
    add_user(engine, "root@example.org", "admin", password=PASSWORD)
    sign_in(page, "root@example.org")
    page.get_by_role("link", name="Staff").click()
    check(page, "staff users")
    page.get_by_label("Email").fill("new@example.org")
    page.get_by_label("Name (optional)").fill("New Person")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("#f-password-error")).to_be_visible()
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(BANNER)).to_contain_text("Added new@example.org as staff")
    page.get_by_role("link", name="new@example.org").click()
    page.get_by_label("Role").select_option("manager")
    page.get_by_role("button", name="Change role").click()
    expect(page.locator(BANNER)).to_contain_text("Saved")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Manager")
    page.get_by_label("Token name").fill("stock spreadsheet")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator(".govuk-panel")).to_contain_text("lnd_")
    check(page, "a user's page")
    page.get_by_role("button", name="Revoke stock spreadsheet").click()
    expect(page.locator(BANNER)).to_contain_text("Revoked the token stock spreadsheet")


def test_lending_by_keyboard_alone(page: Page, engine, office, staff_user):
    phone = add_device(engine, kind="phone", make="Google", model="Pixel 7a")
    sim = add_device(engine, kind="sim", make="EE", model="Data SIM")
    sign_in(page, staff_user)
    recipient_id = add_recipient(page)
    page.goto(f"/recipients/{recipient_id}/edit")
    for question in ("suitable laptop", "internet access at home", "afford mobile data"):
        page.get_by_role("group", name=question).get_by_label("No", exact=True).check()
    page.keyboard.press("Enter")
    expect(page.locator(BANNER)).to_contain_text("Saved")

    page.locator("#f-lend-tag").focus()
    page.keyboard.type(phone)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("to Sam Example")
    # A USB scanner sends Enter after the SIM's tag: that moves on, never lends.
    page.get_by_label("SIM tag").focus()
    page.keyboard.type(sim)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("to Sam Example")
    expect(page.get_by_role("button", name="Continue")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the loan before you lend")
    page.get_by_label("Sam Example has read and accepted the loan agreement").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(BANNER)).to_contain_text(f"{phone} with SIM {sim} lent to Sam Example")
    expect(page.locator(".moj-timeline")).to_contain_text("Lent, due back")
    check(page, "a loan's page")


def test_the_overdue_list_shows_days_late(page: Page, engine,
                                                                   office, staff_user,
                                                                   settings):
    from datetime import UTC, datetime, time, timedelta

    from lending.db import session_for
    from lending.loans.schemas import LoanCreate
    from lending.loans.service import issue_loan
    from lending.recipients.schemas import RecipientCreate
    from lending.recipients.service import create_recipient
    from tests.lending.test_loans_helpers import LONDON, NEEDY, POLICY

    tag = add_device(engine)
    lent = datetime.combine(settings.today() - timedelta(days=60), time(10), tzinfo=UTC)
    with session_for(engine, actor="test") as session:
        person = create_recipient(session, RecipientCreate(
            name="Late Person", location="LDN", mobile="07911 123456", facts=NEEDY), POLICY)
        loan = issue_loan(session, LoanCreate(asset_tag=tag, recipient_id=person.id),
                          POLICY, LONDON, now=lent)[0]
        late = (settings.today() - loan.due_on).days
    sign_in(page, staff_user, path="/login?next=/loans?status=overdue")
    row = page.locator("tbody tr", has_text="Late Person")
    expect(row.locator("td[data-label='Days late']")).to_have_text(str(late))
    expect(page.locator("thead")).to_contain_text("Days late")
    check(page, "overdue loans")
    # The desk shows it too, with the office by name.
    page.goto("/")
    desk_row = page.locator("#overdue-title + table tbody tr", has_text="Late Person")
    expect(desk_row.locator("td[data-label='Days late']")).to_have_text(str(late))
    expect(desk_row).to_contain_text("London Central")
    expect(page.locator("main")).to_contain_text("Laptop: 0")


def test_a_manager_moves_a_request_up_and_cancels_another(page: Page, engine, office,
                                                         manager_user):
    from lending.db import session_for
    from lending.recipients.schemas import RecipientCreate
    from lending.recipients.service import create_recipient
    from lending.waitlist.schemas import WaitlistCreate
    from lending.waitlist.service import add_request
    from tests.lending.test_loans_helpers import LONDON, NEEDY, POLICY

    with session_for(engine, actor="test") as session:
        for name in ("First Person", "Second Person"):
            person = create_recipient(session, RecipientCreate(
                name=name, location="LDN", facts=NEEDY), POLICY)
            add_request(session, WaitlistCreate(recipient_id=person.id, kind="laptop"),
                        POLICY, LONDON)
    sign_in(page, manager_user, path="/login?next=/waitlist")
    second = page.locator(".govuk-summary-card", has_text="Second Person")
    expect(second).to_contain_text("Place 2")
    second.get_by_role("button", name="Move to the top").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    check(page, "waiting list with an error")
    second = page.locator(".govuk-summary-card", has_text="Second Person")
    second.get_by_label("Reason").fill("Starts a college course on Monday")
    second.get_by_role("button", name="Move to the top").click()
    expect(page.locator(BANNER)).to_contain_text("moved to the head of its queue")
    expect(page.locator(".govuk-summary-card", has_text="Second Person")).to_contain_text(
        "Place 1")
    page.locator(".govuk-summary-card", has_text="First Person").get_by_role(
        "button", name="Cancel request").click()
    expect(page.locator(BANNER)).to_contain_text("cancelled")
    expect(page.locator("main")).not_to_contain_text("First Person")
