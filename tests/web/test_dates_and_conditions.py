"""Dates typed in the design system's date input, and a recipient's licence condition,
easy-read preference and declarations, in a real browser."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from inventory.models import Location
from lending.db import session_for
from lending.loans.calendar import next_open_day
from tests.web.conftest import add_device, sign_in
from tests.web.test_accessibility import check

pytestmark = pytest.mark.browser

BANNER = ".govuk-notification-banner"
SUMMARY = ".govuk-error-summary"


def open_day(engine: Engine, after: date) -> date:
    """The first day on or after `after` that the London office is open."""
    with session_for(engine, actor="test") as session:
        london = session.scalar(select(Location).where(Location.code == "LDN"))
        return next_open_day(london, after)


def add_eligible_recipient(page: Page) -> int:
    page.goto("/recipients/new")
    page.get_by_label("Name").fill("Sam Example")
    page.get_by_label("Office").select_option("LDN")
    page.get_by_role("group", name="Do they have a suitable laptop").get_by_label(
        "No", exact=True).check()
    page.get_by_role("button", name="Add recipient").click()
    expect(page.locator(BANNER)).to_contain_text("Added Sam Example")
    return int(page.url.rsplit("/", 1)[1])


def type_date(page: Page, box: str, day: date | tuple[str, str, str]) -> None:
    parts = (str(day.day), str(day.month), str(day.year)) if isinstance(day, date) else day
    for part, text in zip(("day", "month", "year"), parts, strict=True):
        page.locator(f"#{box}-{part}").fill(text)


def test_a_loan_is_made_with_a_typed_due_date_and_bad_dates_are_refused_by_name(
        page: Page, engine, office, staff_user):
    tag = add_device(engine)
    sign_in(page, staff_user)
    recipient_id = add_eligible_recipient(page)
    page.goto(f"/d/{tag}/issue?recipient_id={recipient_id}")

    # 31 February is no date: the page says so in the design system's words, linked to the
    # day box, and keeps what was typed.
    type_date(page, "f-due-on", ("31", "2", "2030"))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(SUMMARY)).to_contain_text("There is a problem")
    expect(page.locator("#f-due-on-error")).to_contain_text("Due date must be a real date")
    link = page.locator(SUMMARY).get_by_role("link", name="Due date must be a real date")
    assert link.get_attribute("href") == "#f-due-on-day"
    assert page.title().startswith("Error: ")
    expect(page.locator("#f-due-on-day")).to_have_value("31")
    check(page, "a due date that is no date")
    link.click()
    expect(page.locator("#f-due-on-day")).to_be_focused()

    # A box left blank is named.
    type_date(page, "f-due-on", ("12", "", "2030"))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#f-due-on-error")).to_contain_text("Due date must include a month")

    # A date gone by: the loan service judges it, before the check page.
    type_date(page, "f-due-on", date.today() - timedelta(days=3))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(SUMMARY)).to_contain_text("Due date must be today or in the future")
    expect(page.locator("#f-due-on-error")).to_contain_text(
        "Due date must be today or in the future")
    assert page.title().startswith("Error: ")

    due = open_day(engine, date.today() + timedelta(days=10))
    type_date(page, "f-due-on", due)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the loan before you lend")
    expect(page.locator(".govuk-summary-list")).to_contain_text(f"{due:%a %-d %b %Y}")
    # Change brings the typed date back into its boxes.
    page.get_by_role("link", name="Change due date").click()
    expect(page.locator("#f-due-on-day")).to_have_value(str(due.day))
    expect(page.locator("#f-due-on-year")).to_have_value(str(due.year))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Sam Example has read and accepted the loan agreement").check()
    page.get_by_role("button", name=f"Lend {tag}").click()
    expect(page.locator(BANNER)).to_contain_text(f"due back {due:%A %-d %B %Y}")


def test_a_loan_is_renewed_to_a_typed_date(page: Page, engine, office, staff_user):
    tag = add_device(engine)
    sign_in(page, staff_user)
    recipient_id = add_eligible_recipient(page)
    first = open_day(engine, date.today() + timedelta(days=5))
    page.goto(f"/d/{tag}/issue?recipient_id={recipient_id}")
    type_date(page, "f-due-on", first)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Sam Example has read and accepted the loan agreement").check()
    page.get_by_role("button", name=f"Lend {tag}").click()
    expect(page.locator(BANNER)).to_contain_text(f"due back {first:%A %-d %B %Y}")

    # Not later than it is now: the service refuses, beside the new date.
    type_date(page, "f-renew-due-on", first)
    page.get_by_role("button", name="Renew", exact=True).click()
    expect(page.locator("#f-renew-due-on-error")).to_contain_text(
        f"Due date must be after {first:%-d %B %Y}")
    assert page.title().startswith("Error: ")
    assert page.locator(SUMMARY).get_by_role("link").first.get_attribute(
        "href") == "#f-renew-due-on-day"
    check(page, "a renewal refused")

    type_date(page, "f-renew-due-on", ("30", "2", "2031"))
    page.get_by_role("button", name="Renew", exact=True).click()
    expect(page.locator("#f-renew-due-on-error")).to_contain_text(
        "Due date must be a real date")

    later = open_day(engine, first + timedelta(days=3))
    type_date(page, "f-renew-due-on", later)
    page.get_by_role("button", name="Renew", exact=True).click()
    expect(page.locator(BANNER)).to_contain_text(f"Renewed: now due back {later:%A %-d %B %Y}")
