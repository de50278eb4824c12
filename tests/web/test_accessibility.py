"""Every page, and every form's error state, checked with axe-core (from npm, injected by
the test) at desk and phone widths, and for sideways scrolling at 320 px."""

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lending.db import session_for
from lending.recipients.schemas import RecipientCreate
from lending.recipients.service import create_recipient
from lending.stocktakes.schemas import StocktakeStart
from lending.stocktakes.service import start_stocktake
from tests.conftest import add_user
from tests.lending.test_loans_helpers import NEEDY, POLICY
from tests.web.conftest import PASSWORD, add_device, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parent.parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def axe_violations(page: Page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not as a <script>: the pages' CSP
        # (no inline script) would refuse a script tag, rightly.
        page.evaluate(AXE.read_text())
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in found if v["impact"] in SERIOUS]


def check(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{where}: {violations}"


def fits(page: Page, where: str) -> None:
    wider = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if wider > 0:
        # Name the elements that stick out, deepest first, to say what to fix.
        culprits = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .filter(e => !Array.from(e.children).some(
                c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
            .slice(0, 5).map(e => e.tagName.toLowerCase() + '.'
                + Array.from(e.classList).join('.') + ' '
                + (e.textContent || '').trim().slice(0, 40))""")
        raise AssertionError(f"{where} is {wider}px wider than a 320px screen: {culprits}")


def pages_of(tag: str, recipient_id: int) -> list[str]:
    return ["/", "/devices", "/devices?kind=phone&location=LDN", "/devices/new",
            "/devices/import", f"/d/{tag}", f"/d/{tag}/edit", f"/d/{tag}/status?to=retired",
            "/recipients", "/recipients?location=LDN&status=all", "/recipients/new",
            f"/recipients/{recipient_id}", f"/recipients/{recipient_id}/edit",
            f"/recipients/{recipient_id}/data", f"/d/{tag}/issue?recipient_id={recipient_id}",
            "/loans", "/loans?status=overdue&location=LDN&late=1-7&sort=due",
            "/loans?status=returned&kind=laptop", "/labels", "/scan/camera", "/d/99999-Z",
            "/waitlist", "/messages", "/audit", "/audit?entity=device", "/audit?since=soon",
            "/account/password", "/reports", "/stocktakes", "/admin/users"]


def add_recipient(page: Page) -> int:
    page.goto("/recipients/new")
    page.get_by_label("Name").fill("Sam Example")
    page.get_by_label("Office").select_option("LDN")
    page.get_by_role("button", name="Add recipient").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Added Sam Example")
    return int(page.url.rsplit("/", 1)[1])


def walk_every_page(page: Page, engine, look: Callable[[Page, str], None]) -> None:
    """Every page the web UI serves, as an admin sees it (an admin sees every page), with
    a loan lent through check your answers, an open stocktake, a user with a new token."""
    add_user(engine, "root@example.org", "admin", password=PASSWORD)
    tag = add_device(engine, kind="phone", make="Google", model="Pixel 7a",
                     serial_number="A-VERY-LONG-SERIAL-NUMBER-0123456789")
    laptop = add_device(engine, model="ThinkPad E14 Gen 5 with a long model name")
    with session_for(engine, actor="test") as session:
        needy = create_recipient(session, RecipientCreate(
            name="Alexandra Featherstonehaugh-Montgomery", location="LDN",
            mobile="07911 123456", facts=NEEDY), POLICY).id
        stocktake = start_stocktake(session, StocktakeStart(location="LDN")).id
    sign_in(page, "root@example.org")
    recipient_id = add_recipient(page)

    page.goto(f"/d/{laptop}/issue?recipient_id={needy}")
    look(page, "the lend form")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the loan before you lend")
    look(page, "check your answers")
    page.get_by_label("has read and accepted the loan agreement").check()
    page.get_by_role("button", name=f"Lend {laptop}").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("lent to")
    loan_id = int(page.url.rsplit("/", 1)[1])
    look(page, "a loan's page")

    page.goto("/admin/users")
    page.get_by_role("link", name="root@example.org").click()
    look(page, "a user's page")
    page.get_by_label("Name").fill("stock spreadsheet")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("main")).to_contain_text("stock spreadsheet")
    look(page, "a user's page with a new token")

    for path in [*pages_of(tag, recipient_id), f"/loans/{loan_id}", f"/loans/{loan_id}/lost",
                 f"/stocktakes/{stocktake}", f"/recipients/{needy}"]:
        page.goto(path)
        look(page, path)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_passes_axe(page: Page, engine, office, width):
    assert AXE.exists(), "run `make install`: axe-core comes from npm"
    page.set_viewport_size({"width": width, "height": 900})
    walk_every_page(page, engine, check)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_error_state_passes_axe(page: Page, engine, office, manager_user, width):
    page.set_viewport_size({"width": width, "height": 900})
    tag = add_device(engine)
    sign_in(page, manager_user, "not the password")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page).to_have_title("Error: Sign in – " + page.title().split(" – ")[1])
    check(page, "sign-in error")
    sign_in(page, manager_user)
    recipient_id = add_recipient(page)
    for path, button in [("/devices/new", "Add device"), ("/recipients/new", "Add recipient"),
                         ("/labels", "Print labels (PDF)"),
                         (f"/recipients/{recipient_id}/edit", "Save changes"),
                         (f"/d/{tag}/edit", "Save changes"),
                         (f"/d/{tag}/status?to=retired", "Yes, retire")]:
        page.goto(path)
        if path.endswith("/edit"):
            page.locator("#f-name, #f-make").first.fill("")
        page.get_by_role("button", name=button).click()
        if "status" in path:
            # Retiring succeeds: wait for the page it lands on before axe reads it.
            expect(page.locator(".govuk-notification-banner")).to_contain_text("now retired")
        else:
            expect(page.locator(".govuk-error-summary")).to_contain_text("There is a problem")
            assert page.title().startswith("Error: "), path
        check(page, f"{path} with errors")


def test_no_page_is_wider_than_a_small_phone(page: Page, engine, office):
    page.set_viewport_size({"width": 320, "height": 800})
    walk_every_page(page, engine, fits)
