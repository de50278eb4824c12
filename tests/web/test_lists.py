"""The long lists in a real browser: the MoJ filter (apply two filters, remove one by its
tag, page through with the filters kept), sorting (on the server for paginated lists, in
the browser for the staff list, which is never paginated), and the overdue list."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from inventory import service as inventory
from inventory.models import Location
from inventory.schemas import DeviceCreate, LocationCreate
from lending.db import session_for
from lending.loans.calendar import next_open_day
from lending.loans.schemas import LoanCreate
from lending.loans.service import issue_loan
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from tests.conftest import add_user
from tests.lending.test_loans_helpers import LONDON, NEEDY, POLICY
from tests.web.conftest import add_device, sign_in
from tests.web.test_accessibility import check

pytestmark = pytest.mark.browser

TAGS = ".moj-filter__selected"


def _second_office(engine) -> None:
    with session_for(engine, actor="test") as session:
        inventory.create_location(session, LocationCreate(code="MAN", name="Manchester"))


def test_devices_filter_by_two_then_one_and_page_through(page: Page, engine, office,
                                                         staff_user):
    _second_office(engine)
    for number in range(27):
        add_device(engine, model=f"E14 unit {number}")
    for number in range(4):
        add_device(engine, model=f"Elsewhere {number}", location="MAN")
    for number in range(3):
        add_device(engine, kind="tablet", make="Apple", model=f"iPad {number}")
    sign_in(page, staff_user)
    page.goto("/devices")
    expect(page.locator("main")).to_contain_text("of 34 devices")
    expect(page.locator(TAGS)).to_have_count(0)

    page.get_by_label("Kind").select_option("laptop")
    page.get_by_label("Office").select_option("LDN")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("main")).to_contain_text("Showing 1 to 25 of 27 devices")
    selected = page.locator(TAGS)
    expect(selected.locator(".moj-filter__tag")).to_have_count(2)
    expect(selected).to_contain_text("Laptop")
    expect(selected).to_contain_text("London Central")
    check(page, "devices with two filters")

    # Page 2 keeps both filters.
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"kind=laptop"))
    expect(page).to_have_url(re.compile(r"location=LDN"))
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("main")).to_contain_text("Showing 26 to 27 of 27 devices")
    expect(page.get_by_label("Kind")).to_have_value("laptop")

    # Removing the office by its tag keeps the kind, and starts again on page 1.
    page.get_by_role("link", name="Remove this filter: London Central").click()
    expect(page).not_to_have_url(re.compile(r"location="))
    expect(page).not_to_have_url(re.compile(r"page="))
    expect(page.locator("main")).to_contain_text("Showing 1 to 25 of 31 devices")
    expect(page.locator(TAGS).locator(".moj-filter__tag")).to_have_count(1)
    expect(page.get_by_label("Office")).to_have_value("")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("tbody")).to_contain_text("Manchester")
    expect(page.locator("tbody")).not_to_contain_text("iPad")

    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("main")).to_contain_text("of 34 devices")


def test_the_filters_work_without_javascript(browser, server, engine, office, staff_user):
    _second_office(engine)
    add_device(engine, model="Here")
    add_device(engine, model="There", location="MAN")
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, staff_user)
        page.goto("/devices")
        page.get_by_label("Office").select_option("MAN")
        page.get_by_role("button", name="Apply filters").click()
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("tbody")).to_contain_text("There")
        page.get_by_role("link", name="Remove this filter: Manchester").click()
        expect(page.locator("tbody tr")).to_have_count(2)
    finally:
        context.close()


def test_recipients_filter_by_office_and_status(page: Page, engine, office, staff_user):
    _second_office(engine)
    with session_for(engine, actor="test") as session:
        for name, where in [("Ann Here", "LDN"), ("Bob Here", "LDN"), ("Cat There", "MAN")]:
            create_recipient(session, RecipientCreate(name=name, location=where,
                                                      facts=NEEDY), POLICY)
    sign_in(page, staff_user)
    page.goto("/recipients")
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_label("Office").select_option("MAN")
    page.get_by_label("Show").select_option("all")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("Cat There")
    expect(page.locator(TAGS)).to_contain_text("Everyone")
    page.get_by_role("link", name="Remove this filter: Manchester").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_label("Show")).to_have_value("all")


def _overdue(engine, settings) -> dict[str, int]:
    """Three overdue loans (about 3, 12 and 40 days late, due on a day the office opens;
    London and Manchester; laptop and phone) and one on time; the days late of each."""
    _second_office(engine)
    today = settings.today()
    late = {}
    with session_for(engine, actor="test") as session:
        for name, where, kind, days, mobile in [
                ("Ada Late", "LDN", "laptop", 3, "07911 123456"),
                ("Ben Later", "LDN", "phone", 12, "+447912345678"),
                ("Cy Latest", "MAN", "laptop", 40, None),
                ("Di On Time", "LDN", "laptop", -3, "07911 123789")]:
            person = create_recipient(session, RecipientCreate(
                name=name, location=where, mobile=mobile, facts=NEEDY), POLICY)
            tag = inventory.create_device(session, DeviceCreate(
                kind=kind, make="Make", model=f"Model {kind}", location=where)).asset_tag
            home = session.scalars(select(Location).where(Location.code == where)).one()
            due = next_open_day(home, today - timedelta(days=days))
            lent = datetime.combine(due - timedelta(days=1), time(10), tzinfo=UTC)
            loan = issue_loan(session, LoanCreate(asset_tag=tag, recipient_id=person.id,
                                                  due_on=due), POLICY, LONDON, now=lent)[0]
            late[name] = (today - loan.due_on).days
    return late


def test_the_overdue_list_shows_mobiles_offices_and_filters(page: Page, engine, office,
                                                            staff_user, settings):
    late = _overdue(engine, settings)
    sign_in(page, staff_user, path="/login?next=/loans?status=overdue")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("main")).not_to_contain_text("Di On Time")
    ada = rows.filter(has_text="Ada Late")
    expect(ada.locator("td[data-label='Mobile']")).to_have_text("07911 123456")
    expect(ada.locator("td[data-label='Days late']")).to_have_text(str(late["Ada Late"]))
    expect(ada.locator("td[data-label='Office']")).to_have_text("London Central")
    expect(rows.filter(has_text="Ben Later").locator("td[data-label='Mobile']")).to_have_text(
        "07912 345678")
    expect(rows.filter(has_text="Cy Latest").locator("td[data-label='Mobile']")).to_have_text(
        "None given")
    expect(rows.filter(has_text="Cy Latest").locator("td[data-label='Office']")).to_have_text(
        "Manchester")
    # Every column in view beside the filter, none scrolled out of sight.
    clipped = page.locator(".moj-filter-layout__content").evaluate(
        "e => e.scrollWidth - e.clientWidth")
    assert clipped <= 0, f"the overdue table is {clipped}px wider than its room"
    # Never split mid-number, even in a narrow column.
    mobile = ada.locator(".app-mobile")
    assert mobile.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"

    page.get_by_label("Days late").select_option("8-28")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Ben Later")
    expect(page).to_have_url(re.compile(r"status=overdue"))
    page.get_by_role("link", name="Remove this filter: 8 to 28 days").click()
    page.get_by_label("Office").select_option("LDN")
    page.get_by_label("Kind").select_option("laptop")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Ada Late")
    check(page, "overdue loans, filtered")

    page.set_viewport_size({"width": 320, "height": 800})
    page.goto("/loans?status=overdue")
    wider = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wider <= 0, f"the overdue list is {wider}px wider than a 320px screen"
    box = page.locator("tbody tr", has_text="Ada Late").locator(".app-mobile").bounding_box()
    line = page.evaluate("() => parseFloat(getComputedStyle(document.body).lineHeight) || 25")
    assert box["height"] < line * 1.5, "the mobile number wrapped onto a second line"


def test_loans_sort_on_the_server_keeping_the_filters(page: Page, engine, office, staff_user,
                                                      settings):
    _overdue(engine, settings)
    sign_in(page, staff_user, path="/login?next=/loans?status=overdue%26location=LDN")
    names = page.locator("tbody td[data-label='Recipient']")
    expect(names).to_have_count(2)
    due = page.get_by_role("columnheader", name="Due")
    expect(due).to_have_attribute("aria-sort", "none")

    due.get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Due")).to_have_attribute(
        "aria-sort", "ascending")
    expect(names).to_have_text(["Ben Later", "Ada Late"])  # the latest first
    expect(page).to_have_url(re.compile(r"location=LDN"))

    page.get_by_role("columnheader", name="Due").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Due")).to_have_attribute(
        "aria-sort", "descending")
    expect(names).to_have_text(["Ada Late", "Ben Later"])

    page.get_by_role("columnheader", name="Recipient").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Recipient")).to_have_attribute(
        "aria-sort", "ascending")
    expect(page.get_by_role("columnheader", name="Due")).to_have_attribute("aria-sort", "none")
    expect(names).to_have_text(["Ada Late", "Ben Later"])
    # Removing a filter keeps the order.
    page.get_by_role("link", name="Remove this filter: London Central").click()
    expect(names).to_have_text(["Ada Late", "Ben Later", "Cy Latest"])
    expect(page).to_have_url(re.compile(r"sort=recipient"))


def test_the_staff_list_sorts_in_the_browser(page: Page, engine, office):
    """Every user on one page, so the MoJ sortable table sorts them all, in the browser."""
    add_user(engine, "admin@example.org", "admin", password="correct horse battery")
    for email in ("carol@example.org", "alan@example.org", "bea@example.org"):
        add_user(engine, email, "staff")
    sign_in(page, "admin@example.org")
    page.goto("/admin/users")
    email = page.get_by_role("columnheader", name="Email")
    expect(email.get_by_role("button")).to_be_visible()  # MoJ's script made it a button
    cells = page.locator("tbody td[data-label='Email']")
    before = cells.all_inner_texts()
    email.get_by_role("button").click()
    expect(email).to_have_attribute("aria-sort", "ascending")
    ordered = sorted(before)
    expect(cells).to_have_text(ordered)
    email.get_by_role("button").click()
    expect(email).to_have_attribute("aria-sort", "descending")
    expect(cells).to_have_text(list(reversed(ordered)))
