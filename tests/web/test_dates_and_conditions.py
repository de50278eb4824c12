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


def choose_restriction(page: Page, text: str) -> None:
    page.get_by_role("group", name="licence condition limit devices").get_by_label(
        text, exact=True).check()


def test_a_licence_condition_and_easy_read_are_set_from_the_edit_page_and_staff_cannot_clear(
        page: Page, engine, office, staff_user):
    sign_in(page, staff_user)
    recipient_id = add_eligible_recipient(page)
    about = page.locator("#about-title + .govuk-summary-list")
    expect(about).to_contain_text("No restriction recorded")
    expect(about).to_contain_text("Standard")
    about.get_by_role("link", name="Change licence condition").click()
    expect(page.locator("#f-restriction")).to_be_checked()  # none, the first choice
    choose_restriction(page, "No internet-enabled devices")
    page.get_by_label("They would like easy-read documents").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(BANNER)).to_contain_text("Saved the changes")
    expect(about).to_contain_text("No internet-enabled devices")
    expect(about).to_contain_text("Easy read")

    # Staff may make it stricter, never looser: the service's 403 is shown at the reason.
    page.goto(f"/recipients/{recipient_id}/edit")
    expect(page.get_by_label("They would like easy-read documents")).to_be_checked()
    choose_restriction(page, "Devices allowed once each loan is declared")
    page.get_by_label("Reason for clearing").fill("The licence was varied last week")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-reason-error")).to_contain_text("needs the manager role")
    expect(page.locator(SUMMARY).get_by_role("link")).to_have_attribute("href", "#f-reason")
    assert page.title().startswith("Error: ")
    check(page, "a licence condition staff may not loosen")
    page.goto(f"/recipients/{recipient_id}")
    expect(about).to_contain_text("No internet-enabled devices")

    # Easy read off again: anyone may.
    page.goto(f"/recipients/{recipient_id}/edit")
    page.get_by_label("They would like easy-read documents").uncheck()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(BANNER)).to_contain_text("Saved the changes")
    expect(about).to_contain_text("Standard")


def test_a_manager_loosens_a_condition_with_a_reason_and_records_a_declaration(
        page: Page, engine, office, staff_user, manager_user):
    sign_in(page, staff_user)
    recipient_id = add_eligible_recipient(page)
    page.goto(f"/recipients/{recipient_id}/edit")
    choose_restriction(page, "No internet-enabled devices")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(BANNER)).to_contain_text("Saved the changes")
    # Staff see the declarations only once the condition asks for them, and never the form.
    expect(page.locator("#declarations")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, manager_user, path=f"/login?next=/recipients/{recipient_id}/edit")
    choose_restriction(page, "Devices allowed once each loan is declared")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-reason-error")).to_contain_text("needs a written reason")
    page.get_by_label("Reason for clearing").fill("Licence varied: devices once declared")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(BANNER)).to_contain_text("Saved the changes")
    declarations = page.locator("#declarations")
    expect(declarations).to_contain_text("No declarations recorded yet")

    form = declarations.locator("form")
    form.get_by_role("button", name="Record declaration").click()
    expect(page.locator("#f-declared-to-error")).to_contain_text("Enter to whom it was declared")
    expect(page.locator("#f-declared-on-error")).to_contain_text("Enter the declaration date")
    assert page.title().startswith("Error: ")
    check(page, "a declaration with nothing filled in")

    page.get_by_label("Declared to").fill("Probation practitioner J. Smith")
    type_date(page, "f-declared-on", ("31", "2", str(date.today().year)))
    page.locator("#declarations form").get_by_role("button", name="Record declaration").click()
    expect(page.locator("#f-declared-on-error")).to_contain_text(
        "Declaration date must be a real date")
    expect(page.get_by_label("Declared to")).to_have_value("Probation practitioner J. Smith")

    declared = date.today() - timedelta(days=1)
    type_date(page, "f-declared-on", declared)
    page.locator("#declarations form").get_by_role("button", name="Record declaration").click()
    expect(page.locator(BANNER)).to_contain_text(
        "Declaration to Probation practitioner J. Smith recorded")
    row = page.locator("#declarations tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"{declared:%a %-d %b %Y}")
    expect(row).to_contain_text("Probation practitioner J. Smith")
    expect(row).to_contain_text(manager_user)
    expect(row).to_contain_text("Not used yet")
    check(page, "a recipient's declarations")


def test_a_plan_end_date_that_is_no_date_is_named_on_the_device_edit_page(
        page: Page, engine, office, staff_user):
    tag = add_device(engine, kind="sim", make="EE", model="Data SIM")
    sign_in(page, staff_user, path=f"/login?next=/d/{tag}/edit")
    type_date(page, "f-plan-ends-on", ("31", "4", "2030"))
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-plan-ends-on-error")).to_contain_text(
        "Plan end date must be a real date")
    link = page.locator(SUMMARY).get_by_role("link", name="Plan end date must be a real date")
    assert link.get_attribute("href") == "#f-plan-ends-on-day"
    expect(page.locator("#f-plan-ends-on-day")).to_have_value("31")
    type_date(page, "f-plan-ends-on", ("", "", "2030"))
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-plan-ends-on-error")).to_contain_text(
        "Plan end date must include a day and month")


def test_the_reports_period_is_typed_in_date_inputs(page: Page, engine, office, manager_user):
    sign_in(page, manager_user, path="/login?next=/reports")
    type_date(page, "f-date-from", ("31", "2", "2026"))
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#f-date-from-error")).to_contain_text("Start date must be a real date")
    check(page, "the reports page with a date that is no date")
    type_date(page, "f-date-from", ("2", "3", "2026"))
    type_date(page, "f-date-to", ("31", "3", "2026"))
    page.get_by_role("button", name="Show").click()
    expect(page.locator(SUMMARY)).to_have_count(0)
    expect(page.locator("a", has_text="Download CSV")).to_have_attribute(
        "href", "/api/v1/reports/stock.csv?from=2026-03-02&to=2026-03-31")
    expect(page.locator("#f-date-to-day")).to_have_value("31")
