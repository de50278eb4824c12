"""A stocktake in a real browser: a scanner types tags and Enter into the scan box, each
scan answers at once; closing lists what is missing, and a manager settles it. The pages
pass axe-core's checks, and the scan box works with JavaScript off."""

import re
from pathlib import Path

import axe_playwright_python
import pytest
from playwright.sync_api import Browser, Page, expect

from inventory import service as inventory
from inventory.schemas import LocationCreate
from lending.db import session_for
from tests.web.conftest import add_device, sign_in

pytestmark = pytest.mark.browser

# axe-core as the PyPI package ships it: injected into the page, run there.
AXE_JS = Path(axe_playwright_python.__file__).parent / "axe.min.js"


def assert_accessible(page: Page) -> None:
    page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations.map("
        "v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)")
    assert violations == [], f"axe on {page.url}: {violations}"


def _mistyped(tag: str) -> str:
    digits, _, letter = tag.partition("-")
    wrong = next(c for c in "ABC" if c not in (letter, inventory.check_letter(digits)))
    return f"{digits}-{wrong}"


def scan(page: Page, text: str) -> None:
    """What a USB scanner does: types into the focused box, then Enter."""
    expect(page.get_by_label("Scan or type a tag")).to_be_focused()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


@pytest.fixture
def offices(engine, office) -> str:
    with session_for(engine, actor="test") as session:
        inventory.create_location(session, LocationCreate(code="MAN", name="Manchester"))
    return office


def test_a_count_by_scanner_then_a_manager_settles_what_is_missing(page: Page, engine,
                                                                   offices, manager_user):
    here, lost, moved = (add_device(engine) for _ in range(3))
    away = add_device(engine, location="MAN", make="Dell", model="Latitude 3440")
    sign_in(page, manager_user)
    page.goto("/stocktakes")
    assert_accessible(page)
    page.get_by_label("Office to count").select_option("LDN")
    page.get_by_role("button", name="Start or resume a stocktake").click()
    expect(page).to_have_url(re.compile(r"/stocktakes/\d+$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Stocktake started")

    answer = page.locator(".scan-result")
    scan(page, here)
    expect(answer).to_have_class(re.compile("scan-green"))
    expect(answer).to_contain_text(f"{here} counted")
    scan(page, here.replace("-", "").lower())
    expect(answer).to_have_class(re.compile("scan-green"))
    expect(answer).to_contain_text("Already counted")
    scan(page, away)
    expect(answer).to_have_class(re.compile("scan-amber"))
    expect(answer).to_contain_text("belongs to MAN")
    scan(page, _mistyped(lost))
    expect(answer).to_have_class(re.compile("scan-red"))
    expect(answer).to_contain_text("probably mistyped")
    expect(page.locator("main")).to_contain_text("2 devices scanned so far")
    assert_accessible(page)

    # Starting again for the same office resumes the open count.
    page.goto("/stocktakes")
    page.get_by_label("Office to count").select_option("LDN")
    page.get_by_role("button", name="Start or resume a stocktake").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("already open")
    expect(page.locator("main")).to_contain_text("2 devices scanned so far")

    page.get_by_role("button", name="Close the stocktake").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "1 found, 2 missing, 1 unexpected")
    missing = page.locator("section", has_text="Missing")
    expect(missing.locator("tbody tr")).to_have_count(2)
    expect(missing).to_contain_text("Added to stock")
    expect(page.locator("section", has_text="Unexpected")).to_contain_text(away)
    assert_accessible(page)

    page.get_by_role("button", name=f"Mark {lost} lost").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"{lost} marked lost")
    page.get_by_label("Now at").select_option("MAN")
    page.get_by_role("button", name=f"Mark {moved} moved").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"{moved} moved to MAN")
    expect(missing).to_contain_text("Marked lost by boss@example.org")
    expect(missing).to_contain_text("Moved to MAN by boss@example.org")
    page.goto(f"/d/{lost}")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Lost")

    page.goto("/stocktakes")
    expect(page.locator("tbody")).to_contain_text("1 found, 2 missing, 1 unexpected")


def test_the_scan_box_works_without_javascript(browser: Browser, server, engine, offices,
                                               staff_user):
    tag = add_device(engine)
    context = browser.new_context(bypass_csp=True, base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, staff_user)
        page.goto("/stocktakes")
        page.get_by_label("Office to count").select_option("LDN")
        page.get_by_role("button", name="Start or resume a stocktake").click()
        page.get_by_label("Scan or type a tag").fill(tag)
        page.keyboard.press("Enter")
        expect(page.locator(".scan-green")).to_contain_text(f"{tag} counted")
        # Staff count and close; settling what is missing is a manager's step.
        page.get_by_role("button", name="Close the stocktake").click()
        expect(page.locator(".govuk-notification-banner")).to_contain_text("1 found, 0 missing")
    finally:
        context.close()


def test_the_camera_count_page_is_accessible_and_counts_without_javascript(
        browser: Browser, page: Page, server, engine, offices, staff_user):
    """The camera page of a stocktake passes axe with an answer shown; with JavaScript off
    it is a plain form that counts a typed tag into the same stocktake."""
    here, away = add_device(engine), add_device(engine, location="MAN")
    sign_in(page, staff_user)
    page.goto("/stocktakes")
    page.get_by_label("Office to count").select_option("LDN")
    page.get_by_role("button", name="Start or resume a stocktake").click()
    page.get_by_role("link", name="Count with the camera").click()
    page.get_by_label("Or type the tag").fill(away)
    page.get_by_role("button", name="Count it").click()
    expect(page.locator(".scan-amber")).to_contain_text("belongs to MAN")
    assert_accessible(page)
    camera_url = page.url

    context = browser.new_context(bypass_csp=True, base_url=server.url, java_script_enabled=False)
    plain = context.new_page()
    try:
        sign_in(plain, staff_user)
        plain.goto(camera_url)
        expect(plain.get_by_role("button", name="Start the camera")).to_be_hidden()
        plain.get_by_label("Or type the tag").fill(here.replace("-", "").lower())
        plain.get_by_role("button", name="Count it").click()
        expect(plain.locator(".scan-green")).to_contain_text(f"{here} counted")
        expect(plain.locator("main")).to_contain_text("2 devices scanned so far")
    finally:
        context.close()
